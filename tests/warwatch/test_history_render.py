"""`warwatch history`'s word-level diff (pure)."""

from __future__ import annotations

from warwatch.render import diff_text, word_diff


def test_word_diff_marks_removed_and_added_words() -> None:
    before = "Pyongyang sent 10,000 troops.\n\nThe deployment began in October."
    after = "Pyongyang sent 3,000 troops.\n\nThe deployment began in October. Officials confirmed it."
    pieces = word_diff(before, after)
    assert ("-", "10,000") in pieces and ("+", "3,000") in pieces
    assert ("+", "Officials confirmed it.") in pieces
    assert " ".join(t for op, t in pieces if op != "+").split() == before.split()
    assert " ".join(t for op, t in pieces if op != "-").split() == after.split()
    plain = diff_text(before, after, plain=True).plain
    assert "[-10,000-] {+3,000+}" in plain and "\n\n" in plain
    assert word_diff("same text", "same text") == [("=", "same text")]
