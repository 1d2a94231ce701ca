"""The dbt models pass sqlfluff with the dbt templater and the rules in .sqlfluff, and those rules catch bad SQL.

The dbt templater compiles each model before linting it, and ``is_incremental()`` asks the database whether the
model's table exists: a model has a full-refresh and an incremental rendering, so the models are linted twice,
without and then with the marts' tables. ``make lint-sql`` runs the same lint by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from vodflow.db.urls import database_url
from vodflow.dbt import dbt_env
from vodflow.dbt.runner import DBT_RUNTIME_ENV

SQLFLUFF = str(Path(sys.executable).with_name("sqlfluff"))
#: sqlfluff runs from the repository root, where .sqlfluff is (its dbt project_dir is relative to that file).
REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "dbt_models"
#: Everything under models/marts is materialized incremental (dbt_project.yml).
INCREMENTAL_MODELS = sorted(path.stem for path in (PROJECT / "models" / "marts").glob("*.sql"))


def _sqlfluff(args: list[str], tmp_path: Path, *, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **DBT_RUNTIME_ENV,
        **dbt_env(database_url()),
        # The dbt templater reads these like dbt does: its partial-parse file and logs stay out of the repository.
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    return subprocess.run(
        [SQLFLUFF, *args],
        cwd=REPO,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _lint_models(paths: list[str], tmp_path: Path) -> None:
    result = _sqlfluff(["lint", *paths], tmp_path)
    violations = f"sqlfluff found violations (see `make lint-sql`):\n{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, violations
    assert "dbt templater" in result.stdout, result.stdout


def test_models_and_singular_tests_pass_sqlfluff(db: Engine, tmp_path: Path) -> None:
    # `db` drops the dbt schemas: every incremental model renders its full-refresh branch.
    _lint_models(["dbt_models/models", "dbt_models/tests"], tmp_path)

    # With a table in place for each mart, is_incremental() is true and the incremental branches render.
    # Empty tables suffice: the templater compiles the models, it never runs them.
    with db.begin() as conn:
        conn.execute(text("create schema marts"))
        for model in INCREMENTAL_MODELS:
            conn.execute(text(f"create table marts.{model} ()"))
    try:
        _lint_models(["dbt_models/models/marts"], tmp_path)
    finally:
        with db.begin() as conn:
            conn.execute(text("drop schema marts cascade"))


BAD_SQL = """\
SELECT A.Provider, count(*) N
FROM raw.assets A
GROUP BY A.Provider
"""


def test_the_rules_catch_bad_sql(tmp_path: Path) -> None:
    # The same .sqlfluff, with the jinja templater: a snippet from stdin is no dbt node, and needs no database.
    result = _sqlfluff(["lint", "--templater", "jinja", "--format", "json", "-"], tmp_path, stdin=BAD_SQL)
    assert result.returncode == 1, result.stdout + result.stderr
    report: list[dict[str, Any]] = json.loads(result.stdout)
    codes = {violation["code"] for file in report for violation in file["violations"]}
    # Upper-case keywords, upper-case identifiers, implicit aliases, `group by <name>` instead of `group by 1`.
    assert {"CP01", "CP02", "AL01", "AL02", "AM06"} <= codes, codes
