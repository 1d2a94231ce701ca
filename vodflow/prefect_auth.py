"""The credentials vodflow's plain-httpx calls to the Prefect API send: the same ones the Prefect client sends.

``vodflow status``, the health report and the alert-failure reader ask the server's REST API with httpx instead of
the Prefect client (importing the client alone costs over a second). A server behind basic auth
(``PREFECT_SERVER_API_AUTH_STRING``, see docs/security.md) refuses them unless they carry the client's
credentials, so they read the same variables the client does: ``PREFECT_API_AUTH_STRING`` (``user:password``,
sent as basic auth) first, else ``PREFECT_API_KEY`` (a bearer token). Only from the environment: vodflow does
not read Prefect profiles here. The header holds a secret: never log it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import TypedDict

AUTH_STRING_ENV = "PREFECT_API_AUTH_STRING"
API_KEY_ENV = "PREFECT_API_KEY"


class ClientCredentials(TypedDict):
    """The keyword arguments ``PrefectClient`` and ``SyncPrefectClient`` take for authentication."""

    auth_string: str | None
    api_key: str | None


def prefect_api_headers(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``Authorization`` header for the Prefect API, or no header when no credential is set."""
    env = os.environ if env is None else env
    auth_string = env.get(AUTH_STRING_ENV, "")
    if auth_string:
        return {"Authorization": f"Basic {base64.b64encode(auth_string.encode()).decode()}"}
    api_key = env.get(API_KEY_ENV, "")
    if api_key:
        return {"Authorization": f"Bearer {api_key}"}
    return {}


def prefect_client_credentials() -> ClientCredentials:
    """``auth_string`` and ``api_key`` for a Prefect client built for a given server: ``PrefectClient(api=url, **…)``.

    ``prefect.get_client()`` passes Prefect's settings itself; a client built directly passes nothing unless told,
    and a server behind auth refuses it. Imports Prefect: call it where the client is built, never at import time.
    """
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY

    return ClientCredentials(auth_string=PREFECT_API_AUTH_STRING.value(), api_key=PREFECT_API_KEY.value())
