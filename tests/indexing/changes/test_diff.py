"""compare(): the API engineer B codes against, the rules of each kind, properties that must
hold for any article (hypothesis), bad input and bounds."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexing.changes import diff
from indexing.changes.diff import EDIT_KINDS, TAKEDOWN_KINDS, Change, ChangeInputError, compare
from indexing.changes.sentences import split_sentences
from indexing.changes.units import MAX_FIELD_CHARS, MAX_UNITS, document_units
from tests.indexing.changes.corpus import articles

ARTICLES = articles()
KEYS = sorted(ARTICLES)


def _doc(body: str, **fields: Any) -> dict[str, Any]:
    return {"title": "Strike on Kharkiv", "body": body, "language": "en", **fields}


def test_the_kinds_are_the_agreed_ones() -> None:
    assert EDIT_KINDS == ("headline", "text_added", "text_removed", "reworded", "numbers", "quote", "byline",
                          "date", "correction")
    assert TAKEDOWN_KINDS == ("removed", "redirected", "soft_404", "walled")


def test_to_dict_leaves_out_empty_fields_and_is_json() -> None:
    change = Change("numbers", "40", "14", 40.0, 14.0, "At least 14 people were killed.")
    assert change.to_dict() == {"kind": "numbers", "before": "40", "after": "14", "before_value": 40.0,
                                "after_value": 14.0, "context": "At least 14 people were killed."}
    assert Change("text_added", sentences=("A.", "B.")).to_dict() == {"kind": "text_added", "sentences": ["A.", "B."]}
    json.dumps([c.to_dict() for c in compare(ARTICLES["en-kharkiv"], ARTICLES["en-grain"])])


def test_a_number_change_reports_both_values_as_written_and_parsed() -> None:
    old = _doc("At least 40 people were killed, officials said.")
    new = _doc("At least 14 people were killed, officials said.")
    assert compare(old, new) == [Change("numbers", "40", "14", 40.0, 14.0, "At least 14 people were killed, officials said.")]


def test_modified_alone_is_no_change_published_is_a_date() -> None:
    old = _doc("Text.", published="2024-03-05T06:10:00Z", modified="2024-03-05T07:00:00Z")
    assert compare(old, {**old, "modified": "2024-03-06T07:00:00Z"}) == []
    assert compare(old, {**old, "published": "2024-03-05T06:10:30Z"}) == []  # within a minute
    assert compare(old, {**old, "published": "2024-03-06T06:10:00Z"}) == [
        Change("date", "2024-03-05T06:10:00Z", "2024-03-06T06:10:00Z")]
    assert compare(old, {**old, "published": None}) == []  # a date the extractor missed is no change
    assert compare(old, {**old, "published": "2024-03-05"}) == []  # the same day, written without a time
    assert [c.kind for c in compare(old, {**old, "published": "2024-03-07"})] == ["date"]


def test_moved_and_duplicated_sentences_are_no_change() -> None:
    old = _doc("First point. Second point here.\nThird paragraph stands.")
    assert compare(old, _doc("Third paragraph stands.\nSecond point here. First point.")) == []
    assert compare(old, _doc("First point. Second point here.\nThird paragraph stands.\nFirst point.")) == []


def test_a_sentence_moved_between_lead_and_body_is_no_change() -> None:
    old = {**_doc("Second sentence follows."), "lead": "The lead sentence."}
    new = {**_doc("The lead sentence.\nSecond sentence follows."), "lead": None}
    assert compare(old, new) == []


def test_a_correction_is_not_also_text_added() -> None:
    old = _doc("At least 40 people were killed.")
    new = _doc("At least 40 people were killed.\nCorrection: An earlier version gave the wrong time. It was 5:40.")
    assert [c.kind for c in compare(old, new)] == ["correction"]
    assert compare(old, new)[0].sentences == ("Correction: An earlier version gave the wrong time.", "It was 5:40.")


def test_a_number_that_changed_in_a_reworded_sentence_is_reported_too() -> None:
    old = _doc("Officials said at least 40 people were killed in the strike on Tuesday.")
    new = _doc("Regional officials said at least 41 people were killed in the strike early on Tuesday.")
    assert [(c.kind, c.before, c.after) for c in compare(old, new)] == [
        ("reworded", old["body"], new["body"]), ("numbers", "40", "41")]


def test_numbers_that_only_moved_in_a_reworded_sentence_are_no_number_change() -> None:
    old = _doc("In 2024, 40 people were killed in the strike on the city, officials said.")
    new = _doc("Officials said 40 people were killed in the strike on the city in 2024.")
    assert [c.kind for c in compare(old, new)] == ["reworded"]


def test_an_image_without_caption_is_reported_by_its_url() -> None:
    old = _doc("Text stays.", images=[{"src": "https://x.example/a.jpg?w=100"}])
    assert compare(old, {**old, "images": [{"url": "https://x.example/a.jpg?w=300"}]}) == []
    assert compare(old, {**old, "images": []}) == [Change("text_removed", sentences=("https://x.example/a.jpg?w=100",))]


def test_the_order_is_the_kind_order_and_deterministic() -> None:
    old, new = ARTICLES["en-kharkiv"], ARTICLES["en-grain"]
    first = compare(old, new)
    assert [c.kind for c in first] == sorted((c.kind for c in first), key=EDIT_KINDS.index)
    assert compare(old, new) == first
    assert {"headline", "text_added", "text_removed", "byline", "date"} <= {c.kind for c in first}


@pytest.mark.parametrize("sparse", [
    {}, {"title": None, "body": None, "lead": None, "authors": None, "images": None, "language": None},
    {"body": "x", "authors": ["Anna", None, 5], "published": "not a date", "images": [{"caption": 7, "src": None}, {"url": ""}]},
])
def test_missing_fields_are_empty(sparse: dict[str, Any]) -> None:
    good = ARTICLES["en-kharkiv"]
    assert all(c.kind in EDIT_KINDS for c in compare(sparse, good) + compare(good, sparse))
    assert compare(sparse, sparse) == []
    assert {"headline", "date"}.isdisjoint(c.kind for c in compare(sparse, good))  # nothing to compare with


@pytest.mark.parametrize(("bad", "field"), [
    ({"title": 5}, "title"), ({"body": ["x"]}, "body"), ({"lead": {"a": 1}}, "lead"), ({"language": 3}, "language"),
    ({"authors": 5}, "authors"), ({"images": "x"}, "images"), ({"images": [None]}, "images"),
])
def test_wrong_types_are_a_clear_error(bad: dict[str, Any], field: str) -> None:
    with pytest.raises(ChangeInputError, match=f"new version: {field}"):
        compare(ARTICLES["en-kharkiv"], bad)
    with pytest.raises(ChangeInputError, match="old version: a mapping"):
        compare(["x"], ARTICLES["en-kharkiv"])  # type: ignore[arg-type]


def test_work_is_bounded_on_huge_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 6 MB body: at most MAX_UNITS units per side, at most MAX_PAIRING² pair scores."""
    rng = random.Random(7)
    vocab = "strike missile city people killed officials mayor region power residents water school army".split()

    def body() -> str:
        return "\n".join(" ".join(rng.choices(vocab, k=12)).capitalize() + "." for _ in range(60_000))

    old, new = _doc(body()), _doc(body())
    assert len(old["body"]) > 5_000_000
    units, cut = document_units(old, "en")
    assert cut and len(units) == MAX_UNITS
    calls = 0
    score = diff._pair_score

    def counted(a: Any, b: Any) -> Any:
        nonlocal calls
        calls += 1
        return score(a, b)

    monkeypatch.setattr(diff, "_pair_score", counted)
    changes = compare(old, new)
    assert 0 < calls <= diff.MAX_PAIRING ** 2
    assert sum(len(c.sentences) for c in changes) <= 2 * MAX_UNITS


# --- properties -------------------------------------------------------------------------------

_SPACES = st.sampled_from([" ", "\u00a0", "  ", "\u202f", " \u200b"])
_DOUBLE = st.sampled_from(['"', "“", "”", "«", "»", "„"])
_DASH = st.sampled_from(["-", "–", "—", "\u2011"])
_APOS = st.sampled_from(["'", "’", "ʼ"])


@given(key=st.sampled_from(KEYS), data=st.data())
def test_typography_perturbations_are_no_change(key: str, data: st.DataObject) -> None:
    doc = ARTICLES[key]
    swaps = {" ": _SPACES, '"': _DOUBLE, "“": _DOUBLE, "”": _DOUBLE, "«": _DOUBLE, "»": _DOUBLE,
             "„": _DOUBLE, "—": _DASH, "–": _DASH, "'": _APOS, "’": _APOS}

    def perturb(text: str) -> str:
        return "".join(data.draw(swaps[ch]) if ch in swaps and data.draw(st.booleans()) else ch for ch in text)

    new = {**doc, "title": perturb(doc["title"]), "lead": perturb(doc["lead"]), "body": perturb(doc["body"])}
    assert compare(doc, new) == []


@given(key=st.sampled_from(KEYS), data=st.data())
def test_reordered_paragraphs_and_sentences_are_no_change(key: str, data: st.DataObject) -> None:
    doc = ARTICLES[key]
    lines = doc["body"].split("\n")
    order = data.draw(st.permutations(range(len(lines))))
    new = {**doc, "body": "\n".join(lines[i] for i in order)}
    assert compare(doc, new) == []
    one_per_line = "\n".join(s for line in lines for s in split_sentences(line, doc["language"]))
    assert compare(doc, {**doc, "body": one_per_line}) == []


@given(title=st.text(max_size=80), body=st.text(max_size=400), lang=st.sampled_from(["en", "de", "ru", "uk", "pl", "fr", ""]))
def test_any_text_against_itself_is_no_change(title: str, body: str, lang: str) -> None:
    doc = {"title": title, "body": body, "lead": body[:50], "language": lang, "authors": [title],
           "images": [{"src": "https://x.example/" + title, "caption": body[:30]}]}
    assert compare(doc, doc) == []
    assert compare(doc, json.loads(json.dumps(doc))) == []


@given(a=st.text(max_size=300), b=st.text(max_size=300))
def test_any_two_texts_give_known_kinds(a: str, b: str) -> None:
    changes = compare(_doc(a), _doc(b))
    assert all(c.kind in EDIT_KINDS for c in changes)
    json.dumps([c.to_dict() for c in changes])


def test_a_body_past_the_field_bound_reports_nothing_near_the_cut() -> None:
    """A long body whose end shifts past MAX_FIELD_CHARS when a paragraph is inserted early: the
    insertion is found, the lines pushed past the cut are not reported as removed."""
    tail = ("when the sirens sounded again and again over the frozen streets and the people went down into the "
            "metro stations, where they waited for the all-clear with their children, their pets and their neighbours ") * 2
    lines = [f"Paragraph number {i} tells of event {i} in the city of Kharkiv on a winter day, {tail}." for i in range(900)]
    old = _doc("\n".join(lines))
    assert len(old["body"]) > MAX_FIELD_CHARS and len(document_units(old, "en")[0]) < MAX_UNITS
    new = _doc("\n".join([lines[0], "An entirely new paragraph was inserted here by the editors.", *lines[1:]]))
    assert [c.kind for c in compare(old, new)] == ["text_added"]
