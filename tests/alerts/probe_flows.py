"""A flow the alert tests run through a deployment: it fails with a known message, or sleeps until it is killed."""

from __future__ import annotations

import time

from prefect import flow

FAILURE_MESSAGE = "probe failure: the provider answered 503 three times"


@flow(name="alert-probe")
def probe(mode: str = "fail", seconds: float = 120.0) -> None:
    if mode == "fail":
        raise ValueError(FAILURE_MESSAGE)
    time.sleep(seconds)
