"""One text folding (indexing/textfold.py) for enrichment and name skeletons alike."""

from __future__ import annotations

import pytest

from indexing.enrich.text import normalize_word, tokenize, words
from indexing.textfold import APOSTROPHES, drop_apostrophes, strip_marks, unify_apostrophes
from indexing.translit import fold_word, name_tokens


@pytest.mark.parametrize(("text", "folded"), [
    ("Corée", "Coree"), ("Südkorea", "Sudkorea"), ("Choïgou", "Choigou"), ("Łukaszenka", "Lukaszenka"),
    ("Straße", "Strasse"), ("Færøerne", "Faeroerne"), ("Ελλάδα", "Ελλαδα"),
    # Cyrillic letters whose identity is a mark stay themselves
    ("Київ", "Київ"), ("Йошкар-Ола", "Йошкар-Ола"), ("Ёлка", "Ёлка"), ("Авдіївка", "Авдіївка"),
    ("plain ascii", "plain ascii"),
])
def test_strip_marks(text: str, folded: str) -> None:
    assert strip_marks(text) == folded


def test_every_apostrophe_is_one_apostrophe() -> None:
    assert unify_apostrophes(APOSTROPHES) == "'" * len(APOSTROPHES)
    assert drop_apostrophes("l’OTAN l'OTAN lʼOTAN") == "lOTAN lOTAN lOTAN"


@pytest.mark.parametrize("apostrophe", list(APOSTROPHES))
def test_enrichment_and_skeletons_fold_the_same_apostrophes(apostrophe: str) -> None:
    """Both users of the folding see every variant: the Ukrainian word keeps it inside, the
    French elision splits, and the skeleton of the elided name does not change."""
    assert words(f"м{apostrophe}ясо") == ["м'ясо"]
    assert [t.norm for t in tokenize(f"l{apostrophe}OTAN")] == ["l", "otan"]
    assert name_tokens([f"près d{apostrophe}Avdiïvka"]) == fold_word("Avdiïvka")
    assert fold_word(f"Zelens{apostrophe}kyy") == fold_word("Zelenskyy")


def test_enrichment_and_skeletons_fold_the_same_accents() -> None:
    for plain, accented in (("lukaszenka", "Łukaszenka"), ("sudkorea", "Südkorea"), ("coree", "Corée")):
        assert normalize_word(accented) == plain
        assert fold_word(accented) == fold_word(plain)
    assert normalize_word("Київ") == "київ" and normalize_word("Ёлка") == "елка"
