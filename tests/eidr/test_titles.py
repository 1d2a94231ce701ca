"""Title normalisation: the key both sides of a match are reduced to."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vodflow.eidr.titles import normalise_name, normalise_title, strip_accents


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("The Matrix", "matrix"),
        ("MATRIX, THE", "matrix"),
        ("Matrix, The (HD)", "matrix"),
        ("The Matrix [Remastered] (4K)", "matrix"),
        ("Les Misérables", "miserables"),
        ("Miserables, Les", "miserables"),
        ("L'Avventura", "avventura"),
        ("Amélie", "amelie"),
        ("Straße", "strasse"),
        ("L.A. Confidential", "la confidential"),
        ("Charlotte's Web", "charlottes web"),
        ("Fast & Furious", "fast and furious"),
        ("Star Wars: Episode IV - A New Hope", "star wars episode iv a new hope"),
        ("Die Hard", "die hard"),  # German "die" is left alone: this one is English
        ("The", "the"),  # never empty
        ("(Untitled)", "untitled"),
        ("七人の侍", "七人の侍"),
    ],
)
def test_feed_spellings_reduce_to_one_key(spelling, key):
    assert normalise_title(spelling) == key


def test_brackets_inside_a_title_are_kept():
    assert normalise_title("(500) Days of Summer") == "500 days of summer"


@given(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F), min_size=1, max_size=40).filter(
        lambda t: any(char.isalnum() for char in strip_accents(t))  # all-punctuation titles keep their raw form
    )
)
def test_case_and_accents_never_matter(title):
    assert normalise_title(title.upper()) == normalise_title(title.lower())
    assert normalise_title(strip_accents(title)) == normalise_title(title)


@given(st.text(min_size=1, max_size=60).filter(lambda t: t.strip()))
def test_a_non_blank_title_never_normalises_to_nothing(title):
    assert normalise_title(title)


def test_names_compare_without_case_accents_or_punctuation():
    assert normalise_name("Pedro Almodóvar") == normalise_name("PEDRO ALMODOVAR")
    assert normalise_name("J.J. Abrams") == "jj abrams"
