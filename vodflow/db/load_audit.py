"""Reading the load audit (``ops.loads``) by flow run: what each run received, wrote and quarantined."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, bindparam, text

_COUNT_COLUMNS = ("received", "inserted", "updated", "unchanged", "quarantined")


def counts_by_flow_run(engine: Engine, flow_run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Row counts summed over each flow run's loads (a drop run loads one file per load), keyed by run id."""
    if not flow_run_ids:
        return {}
    query = text(
        f"select flow_run_id::text as id, {', '.join(f'sum({c})::bigint as {c}' for c in _COUNT_COLUMNS)} "
        "from ops.loads where flow_run_id = any(:ids) group by flow_run_id"
    ).bindparams(bindparam("ids"))
    with engine.connect() as conn:
        rows = conn.execute(query, {"ids": [uuid.UUID(i) for i in flow_run_ids]}).mappings()
        return {row["id"]: {c: int(row[c] or 0) for c in _COUNT_COLUMNS} for row in rows}
