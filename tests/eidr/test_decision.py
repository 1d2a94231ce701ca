"""The matcher's decisions on crafted cases: duplicate only when nothing argues against it."""

from __future__ import annotations

from tests.eidr.helpers import eidr
from vodflow.eidr.decision import HIGH, LOW, Outcome, Reason, decide
from vodflow.eidr.records import RegistryRecord
from vodflow.eidr.resolver import AssetQuery, Candidate, Via
from vodflow.eidr.titles import normalise_title


def rec(name: str, title: str, year: int | None = None, **fields) -> RegistryRecord:
    return RegistryRecord(
        eidr_id=eidr(name), title=title, title_norm=normalise_title(title), release_year=year, **fields
    )


def cand(record: RegistryRecord, via: Via = Via.TITLE_EXACT) -> Candidate:
    return Candidate(record, via)


def ask(title: str, year: int | None = None, **fields) -> AssetQuery:
    return AssetQuery(key="k", title=title, release_year=year, asset_type=fields.pop("asset_type", "movie"), **fields)


HEAT_95 = rec("heat95", "Heat", 1995, runtime_minutes=170, referent_type="Movie")
HEAT_86 = rec("heat86", "Heat", 1986, runtime_minutes=101, referent_type="Movie")


def test_exact_title_and_year_is_a_duplicate():
    decision = decide(ask("HEAT", 1995), [cand(HEAT_95)])
    assert (decision.outcome, decision.eidr_id, decision.method) == (Outcome.DUPLICATE, HEAT_95.eidr_id, "title_exact")
    assert decision.score == 1.0 and decision.reason == Reason.CONFIDENT


def test_the_year_separates_remakes():
    decision = decide(ask("Heat", 1995, runtime_minutes=171), [cand(HEAT_86), cand(HEAT_95)])
    assert decision.outcome is Outcome.DUPLICATE and decision.eidr_id == HEAT_95.eidr_id
    assert [c.eidr_id for c in decision.candidates] == [HEAT_95.eidr_id]  # the 1986 film is far below review


def test_remakes_without_a_year_go_to_review():
    decision = decide(ask("Heat"), [cand(HEAT_86), cand(HEAT_95)])
    assert decision.outcome is Outcome.POTENTIAL and decision.eidr_id is None
    assert decision.reason == Reason.AMBIGUOUS
    assert {c.eidr_id for c in decision.candidates} == {HEAT_86.eidr_id, HEAT_95.eidr_id}


def test_runtime_separates_remakes_without_a_year():
    decision = decide(ask("Heat", runtime_minutes=168), [cand(HEAT_86), cand(HEAT_95)])
    assert decision.outcome is Outcome.DUPLICATE and decision.eidr_id == HEAT_95.eidr_id


def test_an_absent_remake_is_not_matched_to_its_namesake():
    cat_people_42 = rec("cp42", "Cat People", 1942, runtime_minutes=73)
    decision = decide(ask("Cat People", 1982, runtime_minutes=118), [cand(cat_people_42)])
    assert decision.outcome is Outcome.NONE and decision.reason == Reason.BELOW_LOW


def test_same_title_same_year_in_another_language_is_only_a_review():
    singer_fr = rec("singer", "The Singer", 2006, runtime_minutes=112, language="French")
    decision = decide(ask("The Singer", 2007, runtime_minutes=116, language="en"), [cand(singer_fr)])
    assert decision.outcome is Outcome.POTENTIAL and decision.reason == Reason.BELOW_HIGH
    assert decision.candidates[0].evidence["language"] < 0


def test_two_namesakes_of_the_same_year_that_nothing_separates_are_ambiguous():
    one, two = rec("b1", "Beneath", 2013, runtime_minutes=90), rec("b2", "Beneath", 2013, runtime_minutes=90)
    decision = decide(ask("Beneath", 2013, runtime_minutes=90), [cand(one), cand(two)])
    assert decision.outcome is Outcome.POTENTIAL and decision.reason == Reason.AMBIGUOUS


def test_directors_separate_namesakes():
    one = rec("b1", "Beneath", 2013, directors=("Larry Fessenden",))
    two = rec("b2", "Beneath", 2013, directors=("Ben Ketai",))
    decision = decide(ask("Beneath", 2013, directors=("BEN KETAI",)), [cand(one), cand(two)])
    assert decision.outcome is Outcome.DUPLICATE and decision.eidr_id == two.eidr_id


def test_a_typo_with_matching_year_and_runtime_is_a_duplicate():
    matrix = rec("matrix", "The Matrix", 1999, runtime_minutes=136)
    decision = decide(ask("The Matrx", 1999, runtime_minutes=136), [cand(matrix, Via.TITLE_FUZZY)])
    assert decision.outcome is Outcome.DUPLICATE and decision.method == "title_fuzzy"
    assert HIGH <= decision.score < 1.0


def test_a_similar_title_alone_is_not_even_a_review():
    decision = decide(ask("Heath", 1995), [cand(HEAT_95, Via.TITLE_FUZZY)])
    assert decision.score < HIGH
    assert decision.outcome is not Outcome.DUPLICATE


def test_an_imdb_id_carries_a_translated_title_to_review_and_a_close_one_to_a_match():
    amelie = rec("amelie", "Amélie", 2001, imdb_id="tt0211915", runtime_minutes=122)
    translated = decide(
        ask("Le Fabuleux Destin d'Amélie Poulain", 2001, imdb_id="tt0211915"), [cand(amelie, Via.IMDB_ID)]
    )
    assert translated.outcome is Outcome.POTENTIAL and translated.method == "imdb_id"
    close = decide(ask("Amelie (HD)", 2001, imdb_id="tt0211915"), [cand(amelie, Via.IMDB_ID)])
    assert close.outcome is Outcome.DUPLICATE


def test_different_imdb_ids_keep_namesakes_apart():
    decision = decide(ask("Heat", 1995, imdb_id="tt0000001"), [cand(rec("h", "Heat", 1995, imdb_id="tt0113277"))])
    assert decision.outcome is Outcome.NONE  # two IDs, two works: not even a review


def test_a_film_is_never_matched_to_an_episode():
    episode = rec("ep", "Heat", 1995, referent_type="Episode")
    decision = decide(ask("Heat", 1995), [cand(episode)])
    assert decision.outcome is Outcome.NONE and decision.score == 0.0


def test_an_episode_needs_its_parent():
    series = eidr("series")
    pilot = rec("pilot", "Pilot", 2010, referent_type="Episode", parent_eidr_id=series)
    other = rec("pilot2", "Pilot", 2010, referent_type="Episode", parent_eidr_id=eidr("other series"))
    under_parent = decide(ask("Pilot", 2010, asset_type="episode", parent_eidr_id=series), [cand(pilot), cand(other)])
    assert under_parent.outcome is Outcome.DUPLICATE and under_parent.eidr_id == pilot.eidr_id
    orphan = decide(ask("Pilot", 2010, asset_type="episode"), [cand(pilot)])
    assert orphan.outcome is Outcome.POTENTIAL and orphan.reason == Reason.PARENT_UNCONFIRMED


def test_no_candidate_is_none_and_says_so():
    decision = decide(ask("Nothing Like It", 2001), [])
    assert (decision.outcome, decision.method, decision.reason) == (Outcome.NONE, "no_candidate", Reason.NO_CANDIDATE)


def test_the_same_record_found_twice_counts_once_by_its_strongest_route():
    decision = decide(
        ask("Heat", 1995, imdb_id="tt1"), [cand(HEAT_95), cand(rec("heat95", "Heat", 1995, imdb_id="tt1"), Via.IMDB_ID)]
    )
    assert len(decision.candidates) == 1 and decision.method == "imdb_id"


def test_review_candidates_are_at_least_low():
    decision = decide(ask("Heat"), [cand(HEAT_86), cand(HEAT_95)])
    assert all(c.score >= LOW for c in decision.candidates)
