"""The dbt macro normalize_title and the EIDR matcher's normalise_title are one rule set in two languages.

dim_assets' title_normalized and content_key come from the SQL macro; the registry's title_norm and every match
come from Python. If the two drifted apart, a film would have one key in the marts and another in matching, so
this runs both on every title the sandbox can produce (17,000 real films, each as every provider spells it)
plus the hard cases, and requires identical results.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT

from tests.dbt.conftest import run_dbt
from vodflow.eidr.titles import normalise_title
from vodflow.sandbox.catalogue import load_films
from vodflow.sandbox.imperfect import imperfect_title
from vodflow.settings import Settings

HARD_CASES = [
    "The Matrix (HD)",
    "MATRIX, THE",
    "Matrix, the [Remastered] (HD)",
    "Amélie",
    "L.A. Confidential",
    "Charlotte's Web",
    "Romeo & Juliet",
    "L'Avventura",
    "Les Misérables",
    "Die Hard",
    "Der Untergang",
    "Straße der Ölkönige",
    "Æon Flux",
    "Smørrebrød Łódź",
    "The",
    "(HD)",
    "!!!",
    "  spaced   out  ",
    "A.I. Artificial Intelligence",
    "8½",
    "ﬁnal ﬂight",
    "七人の侍",
    "Брат",
    "M*A*S*H",
    "Se7en",
    "It's a Wonderful Life, The",
    "Crouching Tiger, Hidden Dragon",
]


def _compiled_macro(tmp_path: Path) -> str:
    """The SQL dbt compiles normalize_title('title') to."""
    result = run_dbt(
        [
            "compile",
            "--inline",
            "select {{ normalize_title('title') }} as normalized from titles",
            "--output",
            "json",
            "--quiet",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return str(json.loads(result.stdout)["compiled"])


def _corpus() -> list[str]:
    titles = set(HARD_CASES)
    for film in load_films():
        titles.add(film.title)
        for provider in ("lumina", "atlas", "harbor", "meridian"):
            titles.add(imperfect_title(film.title, provider, film.source_id))
    return sorted(titles)


def test_sql_and_python_normalise_every_title_alike(db: Engine, postgres: Settings, tmp_path: Path) -> None:
    select_normalized = _compiled_macro(tmp_path)
    corpus = _corpus()
    query = text(
        f"with titles as (select title, ordinality from unnest(:titles) with ordinality as t (title, ordinality)) "
        f"select title, normalized from ({select_normalized.replace('from titles', ', ordinality from titles')}) n "
        f"join titles using (ordinality) order by ordinality"
    ).bindparams(bindparam("titles", type_=ARRAY(TEXT)))
    with db.connect() as conn:
        rows = conn.execute(query, {"titles": corpus}).all()
    assert len(rows) == len(corpus) > 17_000
    differences = [(title, sql, normalise_title(title)) for title, sql in rows if sql != normalise_title(title)]
    assert differences == [], f"{len(differences)} titles differ (title, sql, python): {differences[:20]}"
