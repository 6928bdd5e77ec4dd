from indexing.enrich.text import normalize_word, tokenize, words


def test_normalisation_casefold_yo_diacritics() -> None:
    assert normalize_word("Corée") == "coree"
    assert normalize_word("SÜDKOREA") == "sudkorea"
    assert normalize_word("Ёлка") == "елка"
    # Cyrillic letters with marks are letters of their own
    assert normalize_word("Київ") == "київ"
    assert normalize_word("й") == "й"


def test_apostrophes_inside_cyrillic_split_latin() -> None:
    assert words("об’єкт l’OTAN Putin's") == ["об'єкт", "l", "otan", "putin", "s"]


def test_token_offsets_point_into_text() -> None:
    text = "NATO-Generalsekretär Mark Rutte"
    for tok in tokenize(text):
        assert text[tok.start : tok.end] == tok.orig
