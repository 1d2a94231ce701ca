"""The automations vodflow owns, read from ``automations.yaml`` (package data) and turned into Prefect models.

The YAML holds Prefect's own trigger schema plus a channel and a Jinja subject/body per automation. Numbers that
operators tune (how long a run may stay Running, the quarantined share that alerts, the dbt digest window) are
written as ``${VODFLOW_ALERT_NAME:-default}`` and filled from the environment when the file is read. Only
``VODFLOW_ALERT_*`` names are substituted, so no secret can be pulled into a definition by accident.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import yaml

from vodflow.alerts.channels import CHANNELS, Channel

if TYPE_CHECKING:
    from prefect.events.schemas.automations import AutomationCore

#: Every automation vodflow creates carries this name prefix and this tag; apply touches no other automation
#: (never, for example, the ones Prefect creates from the deployment triggers in prefect.yaml).
NAME_PREFIX = "vodflow: "
MANAGED_TAG = "vodflow-managed"
MANAGED_NOTE = "Managed by `vodflow automations apply` from vodflow/alerts/automations.yaml; edits here are undone."

_PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")
_ALLOWED_PREFIX = "VODFLOW_ALERT_"


class DefinitionError(ValueError):
    """The definitions file is malformed, or names a variable it may not use."""


CRASH = "crash"
"""The one action besides a message: mark the run Crashed (for runs whose process vanished without a word)."""


@dataclass(frozen=True)
class AutomationDefinition:
    """One automation as the repository defines it: a message through a channel, or ``action: crash``."""

    name: str
    channel: Channel | None
    description: str
    trigger: dict[str, Any]
    subject: str
    body: str
    action: str | None = None

    @property
    def full_name(self) -> str:
        """The automation's name on the server (prefixed, so people and ``apply`` can tell ours apart)."""
        return f"{NAME_PREFIX}{self.name}"

    def to_automation(self, block_document_id: UUID | None) -> AutomationCore:
        """The Prefect automation: it sends this definition's message through the given block, or crashes the run."""
        from prefect.client.schemas.objects import StateType
        from prefect.events.actions import ChangeFlowRunState, SendNotification
        from prefect.events.schemas.automations import AutomationCore, EventTrigger

        if self.action == CRASH:
            action: Any = ChangeFlowRunState(name=None, state=StateType.CRASHED, message=self.body.strip(), force=False)
            tags = [MANAGED_TAG, f"action:{CRASH}"]
        else:
            if block_document_id is None:
                raise DefinitionError(f"{self.name}: a message needs its channel's block")
            action = SendNotification(block_document_id=block_document_id, subject=self.subject, body=self.body)
            tags = [MANAGED_TAG, f"channel:{self.channel}"]
        return AutomationCore(
            name=self.full_name,
            description=f"{self.description.strip()}\n\n{MANAGED_NOTE}",
            enabled=True,
            tags=tags,
            trigger=EventTrigger.model_validate({"type": "event", **self.trigger}),
            actions=[action],
        )


def substitute(text: str, env: Mapping[str, str]) -> str:
    """Fill ``${VODFLOW_ALERT_X:-default}`` placeholders from ``env``.

    Raises:
        DefinitionError: a placeholder names another variable, or has neither a value nor a default.
    """

    def fill(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if not name.startswith(_ALLOWED_PREFIX):
            raise DefinitionError(f"only {_ALLOWED_PREFIX}* variables may be used in definitions, not {name}")
        value = env.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise DefinitionError(f"{name} is not set and has no default")
        return default

    return _PLACEHOLDER.sub(fill, text)


def _definition(raw: Any, index: int) -> AutomationDefinition:
    if not isinstance(raw, dict):
        raise DefinitionError(f"automation #{index + 1} is not a mapping")
    action = raw.get("action")
    if action is not None and action != CRASH:
        raise DefinitionError(f"{raw.get('name', f'automation #{index + 1}')}: action must be {CRASH!r} or absent")
    required = ("name", "trigger", "body") if action == CRASH else ("name", "channel", "trigger", "subject", "body")
    missing = [key for key in required if key not in raw]
    if missing:
        raise DefinitionError(f"automation #{index + 1} lacks {', '.join(missing)}")
    if action == CRASH and "channel" in raw:
        raise DefinitionError(f"{raw['name']}: an automation that crashes runs sends nothing; give it no channel")
    if action is None and raw["channel"] not in CHANNELS:
        raise DefinitionError(f"{raw['name']}: channel must be one of {', '.join(CHANNELS)}")
    return AutomationDefinition(
        name=str(raw["name"]),
        channel=None if action == CRASH else cast(Channel, raw["channel"]),
        description=str(raw.get("description", "")),
        trigger=dict(raw["trigger"]),
        subject=str(raw.get("subject", "")).strip(),
        body=str(raw["body"]),
        action=action,
    )


def parse_definitions(text: str, env: Mapping[str, str] | None = None) -> list[AutomationDefinition]:
    """Parse a definitions document (after substituting ``VODFLOW_ALERT_*`` values).

    Raises:
        DefinitionError: malformed YAML, a missing key, an unknown channel, or a duplicate name.
    """
    try:
        document = yaml.safe_load(substitute(text, os.environ if env is None else env))
    except yaml.YAMLError as exc:
        raise DefinitionError(f"automations definitions are not valid YAML: {exc}") from exc
    items = (document or {}).get("automations") or []
    definitions = [_definition(raw, index) for index, raw in enumerate(items)]
    names = [definition.name for definition in definitions]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DefinitionError(f"automation names must be unique: {', '.join(duplicates)}")
    return definitions


def load_definitions(env: Mapping[str, str] | None = None) -> list[AutomationDefinition]:
    """The automations the repository defines (``vodflow/alerts/automations.yaml``)."""
    text = resources.files("vodflow.alerts").joinpath("automations.yaml").read_text(encoding="utf-8")
    return parse_definitions(text, env)
