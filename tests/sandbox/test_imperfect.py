"""The shared title imperfections: each kind does what it says, deterministically, per provider."""

from __future__ import annotations

from collections import Counter

import pytest

from vodflow.sandbox.catalogue import load_films
from vodflow.sandbox.imperfect import (
    Imperfection,
    imperfect_title,
    language_value,
    pick_bad,
    select_imperfections,
    strip_accents,
    title_imperfection,
)


def test_strip_accents_keeps_other_characters():
    assert strip_accents("Les Misérables") == "Les Miserables"
    assert strip_accents("Sátántangó – 8½") == "Satantango – 8½"


def test_every_kind_appears_with_plausible_shares():
    films = load_films()[:5000]
    enabled = select_imperfections(None)
    kinds = Counter(title_imperfection(f.title, "harbor", f.source_id, enabled) for f in films)
    assert set(kinds) == {None, *[k for k in Imperfection if k not in (Imperfection.ACCENTS, Imperfection.NO_YEAR)]}
    assert 0.02 < kinds[Imperfection.UPPER] / len(films) < 0.06
    assert 0.6 < kinds[None] / len(films) < 0.9
    for film in films:
        kind = title_imperfection(film.title, "harbor", film.source_id, enabled)
        spelt = imperfect_title(film.title, "harbor", film.source_id)
        if kind is Imperfection.ARTICLE_LAST:
            first, rest = film.title.split(" ", 1)
            assert strip_accents(spelt) == strip_accents(f"{rest}, {first}")
        elif kind is Imperfection.HD_SUFFIX:
            assert spelt.endswith(" (HD)")
        elif kind is Imperfection.REMASTERED:
            assert spelt.endswith(" [Remastered]")
        elif kind is Imperfection.TYPO:
            assert sorted(spelt) == sorted(strip_accents(film.title)) or sorted(spelt) == sorted(film.title)
            assert spelt != film.title and len(spelt) == len(film.title)


def test_providers_spell_the_same_film_differently_and_deterministically():
    films = load_films()[:2000]
    harbor = [imperfect_title(f.title, "harbor", f.source_id) for f in films]
    meridian = [imperfect_title(f.title, "meridian", f.source_id) for f in films]
    assert harbor == [imperfect_title(f.title, "harbor", f.source_id) for f in films]
    assert sum(h != m for h, m in zip(harbor, meridian, strict=True)) > 200


def test_selection_turns_kinds_off():
    films = load_films()[:2000]
    clean = [imperfect_title(f.title, "harbor", f.source_id, frozenset()) for f in films]
    assert clean == [f.title for f in films]
    with pytest.raises(ValueError):
        select_imperfections(["shouting"])


def test_language_forms():
    forms = Counter(language_value(["French"], "harbor", n, code_share=0.5) for n in range(2000))
    assert set(forms) == {"French", "fr", "fra"} and 900 < forms["French"] < 1100
    assert language_value(["Klingon"], "harbor", 1, code_share=1.0) == "Klingon"
    assert language_value([], "harbor", 1, code_share=1.0) is None


def test_pick_bad_has_every_kind_even_in_small_sets():
    picked = pick_bad([f"k{n}" for n in range(7)], ["a", "b", "c"], "x")
    assert sorted(Counter(picked.values())) == ["a", "b", "c"] and len(picked) == 3
    assert len(pick_bad([f"k{n}" for n in range(1000)], ["a", "b"], "x")) == 10
