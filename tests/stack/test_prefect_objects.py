"""The local work pool's job template: each run starts as this interpreter's engine, and ``vodflow up`` changes an
existing pool's template only where it is vodflow's to change."""

from __future__ import annotations

import copy
import shlex
import sys
from typing import Any

from prefect.utilities.templating import apply_values
from prefect.workers.process import ProcessWorker

from vodflow.stack.prefect_objects import _with_our_command, flow_run_command, process_job_template


def with_command(command: object) -> dict[str, Any]:
    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["command"]["default"] = command
    template["variables"]["properties"]["env"]["default"] = {"TEAM_SETTING": "kept"}  # someone's own change
    return template


def rendered_command(template: dict[str, Any], job_variables: dict[str, Any]) -> object:
    """The command a worker's job configuration gets: the variables' defaults, overridden by a deployment's."""
    defaults = {name: spec.get("default") for name, spec in template["variables"]["properties"].items()}
    return apply_values(template["job_configuration"], {**defaults, **job_variables})["command"]


def test_a_deployment_without_job_variables_runs_the_engine_of_this_interpreter() -> None:
    template = process_job_template()
    assert rendered_command(template, {}) == flow_run_command() == shlex.join([sys.executable, "-m", "prefect.engine"])
    assert rendered_command(template, {"command": "python -m mine"}) == "python -m mine"  # a deployment's own wins


def test_a_pool_without_a_command_or_with_another_interpreters_engine_gets_ours_and_keeps_the_rest() -> None:
    for before in (None, "/old/venv/bin/python -m prefect.engine"):
        template = with_command(before)
        untouched = copy.deepcopy(template)
        changed = _with_our_command(template)
        assert changed is not None
        assert changed["variables"]["properties"]["command"]["default"] == flow_run_command()
        assert changed["variables"]["properties"]["env"]["default"] == {"TEAM_SETTING": "kept"}
        assert template == untouched  # a copy is changed, not the pool's own


def test_a_pool_that_has_ours_or_someone_elses_command_is_left_alone() -> None:
    assert _with_our_command(with_command(flow_run_command())) is None
    assert _with_our_command(with_command("/opt/run-with-vault.sh python -m prefect.engine --profile x")) is None
    assert _with_our_command(with_command("uv run python -m prefect.engine --extra")) is None
    assert _with_our_command({"job_configuration": {}, "variables": {"properties": {}}}) is None
