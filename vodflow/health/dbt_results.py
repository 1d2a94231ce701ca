"""The last dbt build: its models and tests, failures and warnings, from dbt's ``run_results.json``.

dbt keeps only its latest invocation's results (``Settings.dbt_target_dir``, where every pipeline build writes).
A report for a past day uses them only if that build finished before the report's end; otherwise the section says
there is no record for that day rather than showing a later build.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from vodflow.dbt.runner import FAILURE_STATUSES, WARNING_STATUSES, node_type_and_name
from vodflow.health.model import Section, Window

TEST_TYPES = frozenset({"test", "unit_test"})


@dataclass(frozen=True)
class DbtProblem:
    """A node that failed or warned."""

    resource_type: str
    name: str
    status: str
    message: str | None
    failures: int | None


@dataclass
class DbtSection(Section):
    """The last build's counts per resource kind and status, and its problems."""

    generated_at: datetime | None = None
    command: str | None = None
    elapsed_seconds: float | None = None
    models: dict[str, int] = field(default_factory=dict)
    tests: dict[str, int] = field(default_factory=dict)
    failures: list[DbtProblem] = field(default_factory=list)
    warnings: list[DbtProblem] = field(default_factory=list)


def read_dbt(path: Path, window: Window) -> DbtSection:
    """Summarise ``run_results.json`` at ``path`` if it describes a build before the window's end."""
    if not path.is_file():
        return DbtSection(unavailable="no dbt build recorded yet (no run_results.json)")
    document = json.loads(path.read_text())
    metadata = document.get("metadata") or {}
    generated_at = datetime.fromisoformat(str(metadata["generated_at"]).replace("Z", "+00:00"))
    if generated_at >= window.end:
        return DbtSection(
            unavailable=f"no data for this day: dbt keeps only its latest build's results, which finished after "
            f"the report's end ({generated_at:%Y-%m-%d %H:%M} UTC)",
            generated_at=generated_at,
        )
    args = document.get("args") or {}
    select = args.get("select") or []
    section = DbtSection(
        generated_at=generated_at,
        command=" ".join(["dbt", str(args.get("which", "build")), *(["--select", *select] if select else [])]),
        elapsed_seconds=float(document.get("elapsed_time") or 0.0),
    )
    models: Counter[str] = Counter()
    tests: Counter[str] = Counter()
    for result in document.get("results") or []:
        resource_type, name = node_type_and_name(str(result["unique_id"]))
        status = str(result.get("status", ""))
        if resource_type == "model":
            models[status] += 1
        elif resource_type in TEST_TYPES:
            tests[status] += 1
        if status in FAILURE_STATUSES or status in WARNING_STATUSES:
            problem = DbtProblem(resource_type, name, status, result.get("message"), result.get("failures"))
            (section.failures if status in FAILURE_STATUSES else section.warnings).append(problem)
    section.models, section.tests = dict(models), dict(tests)
    return section
