"""indexing.translit: spellings of one name in uk/ru/de/fr/en fold to a shared skeleton, different
names stay apart, and the field/query token helpers pick the right words."""

from __future__ import annotations

import itertools

import pytest

from indexing.translit import (
    fold,
    fold_word,
    name_tokens,
    place_adjective,
    place_forms,
    query_tokens,
    query_words,
    to_latin,
)

# Each group: spellings of one name as Ukrainian, Russian, German, French and English writers use
# them, nominative and inflected. Some are in the gazetteer, some not: folding must not care.
SAME_NAME = {
    "pokrovsk": ["Pokrovsk", "Pokrowsk", "Покровськ", "Покровск", "Покровська", "Покровському",
                 "Покровського", "Покровськом", "Pokrowsks", "Pokrovsk's"],
    "avdiivka": ["Avdiivka", "Awdijiwka", "Avdiïvka", "Авдіївка", "Авдеевка", "Avdeyevka", "Awdejewka",
                 "Авдіївку", "Авдеевки"],
    "vuhledar": ["Vuhledar", "Wuhledar", "Vougledar", "Ugledar", "Вугледар", "Угледар", "Вугледара"],
    "chasiv-yar": ["Chasiv", "Tschassiw", "Tchassiv", "Часів", "Часов", "Часового"],
    "zaluzhnyi": ["Zaluzhnyi", "Zaluzhny", "Saluschnyj", "Zaloujny", "Zaloujnyï", "Залужний", "Залужный",
                  "Залужного", "Залужному"],
    "kharkiv": ["Kharkiv", "Charkiw", "Kharkov", "Charkow", "Харків", "Харьков", "Харкова", "Харкові",
                "Kharkiv's", "Charkiws"],
    "shoigu": ["Shoigu", "Schoigu", "Choïgou", "Шойгу"],
    "kurakhove": ["Kurakhove", "Kurachowe", "Kourakhove", "Курахове", "Курахово"],
    "kyiv": ["Kyiv", "Kiew", "Kiev", "Київ", "Киев", "Kyjiw", "Києва"],
    "zelensky": ["Zelensky", "Zelenskyy", "Selenskyj", "Zelenski", "Зеленський", "Зеленский", "Зеленського"],
    "toretsk": ["Toretsk", "Torezk", "Торецьк", "Торецк"],
    "zaporizhzhia": ["Zaporizhzhia", "Saporischschja", "Zaporijia", "Запоріжжя", "Запорожье"],
    "prigozhin": ["Prigozhin", "Prigoschin", "Prigojine", "Пригожин", "Пригожина"],
    "gerasimov": ["Gerasimov", "Gerassimow", "Guerassimov", "Герасимов", "Герасимова"],
    "odesa": ["Odesa", "Odessa", "Одеса", "Одесса", "Одесі", "Одессы", "Odessas"],
    "kursk": ["Kursk", "Koursk", "Курськ", "Курск", "Курська", "Kursks"],
    "selydove": ["Selydove", "Selidovo", "Selydowe", "Селидове", "Селидово"],
    "syrskyi": ["Syrskyi", "Syrsky", "Syrskyj", "Сирський", "Сырский"],
}

# Different names, some of them close in sound or spelling: they must not fold together.
DIFFERENT = ["Pokrovsk", "Kharkiv", "Kherson", "Kyiv", "Kursk", "Donetsk", "Luhansk", "Bakhmut", "Budanov",
             "Zaluzhnyi", "Zelensky", "Shoigu", "Syrskyi", "Avdiivka", "Vuhledar", "Mariupol", "Melitopol",
             "Toretsk", "Kramatorsk", "Sloviansk", "Siversk", "Putin", "Peskov", "Kupiansk", "Kurakhove",
             "Selydove", "Myrnohrad", "Novohrodivka", "Chasiv", "Odesa", "Dnipro", "Lavrov", "Kadyrov",
             "Gerasimov", "Prigozhin", "Lysychansk", "Sievierodonetsk", "Kostiantynivka", "Huliaipole"]


@pytest.mark.parametrize("name", sorted(SAME_NAME))
def test_spellings_of_one_name_share_a_skeleton(name: str) -> None:
    folded = {w: set(fold_word(w)) for w in SAME_NAME[name]}
    assert all(folded.values()), folded
    shared = set.intersection(*folded.values())
    assert shared, folded


def test_different_names_stay_different() -> None:
    skeletons = {name: set(fold_word(name)) for name in DIFFERENT}
    clashes = [(a, b) for a, b in itertools.combinations(DIFFERENT, 2) if skeletons[a] & skeletons[b]]
    assert clashes == [], [(a, b, skeletons[a] & skeletons[b]) for a, b in clashes]


def test_folding_is_case_and_accent_blind_and_deterministic() -> None:
    assert fold_word("POKROVSK") == fold_word("pokrovsk") == fold_word("Pokrovsk")
    assert fold_word("Zaloujnyï") == fold_word("Zaloujnyi")
    assert fold_word("Ярослав") == fold_word("Ярослав")
    assert to_latin("Об'єднаних") == "obyednanykh"  # apostrophe dropped, є and х spelled out
    assert to_latin("Київ") == "kyyiv"
    assert to_latin("Straße") == "strasse"


def test_j_is_read_both_ways_except_at_the_end() -> None:
    # French j is ж, German j is й: a word with j gets both readings...
    assert len(fold_word("Zaloujny")) == 2
    # ... but a word-final j is й in every convention.
    assert fold_word("Saluschnyj")[0] == fold_word("Zaluzhnyi")[0]
    assert fold_word("Selenskyj") == fold_word("Zelensky")


@pytest.mark.parametrize("word", ["", " ", "123", "42-й", "🙂", "'", "Яр", "UN", "EU", "a", "Ой"])
def test_short_or_non_words_give_no_skeleton(word: str) -> None:
    assert fold_word(word) == []
    assert fold(word) == []


def test_too_ambiguous_skeletons_are_dropped() -> None:
    assert fold_word("Яр") == []  # two classes
    assert fold_word("Aia") == []  # one consonant class at most
    assert fold_word("Yoon") == []


def test_name_tokens_take_capitalised_words_and_count_them() -> None:
    tokens = name_tokens([
        "Die Offensive auf Pokrowsk",
        "Nach Angaben des Generalstabs griffen russische Truppen Pokrowsk und Kurachowe an.",
        None,
        "",
    ])
    assert tokens.count(fold_word("Pokrovsk")[0]) == 2
    assert fold_word("Kurakhove")[0] in tokens
    # Lowercase words (German verbs and adjectives) and function words are not name candidates.
    for word in ("griffen", "russische", "Nach"):
        assert not set(fold_word(word)) & set(tokens), word
    assert fold_word("Offensive")[0] in tokens  # German nouns are capitalised: kept (see search.py)


def test_name_tokens_in_cyrillic_text() -> None:
    uk = "Російські війська наступають на Покровськ. Бої точаться під Покровськом і біля Курахового."
    ru = "Российские войска продолжают наступление на Покровск, сообщил Генштаб."
    pokrovsk = fold_word("Pokrovsk")[0]
    assert name_tokens([uk]).count(pokrovsk) == 2
    assert fold_word("Kurakhove")[0] in name_tokens([uk])
    assert pokrovsk in name_tokens([ru])
    assert not set(fold_word("наступають")) & set(name_tokens([uk]))


def test_query_tokens_fold_lowercase_words_dedup_and_skip() -> None:
    pokrovsk = fold_word("Pokrovsk")[0]
    assert query_tokens("pokrovsk") == [pokrovsk]
    assert query_tokens("Pokrovsk Pokrowsk the") == [pokrovsk]
    tokens = query_tokens("the Pokrovsk offensive")
    # offensive's skeleton and its place-adjective form (place_forms): every typed word may be a place
    assert tokens[0] == pokrovsk and len(tokens) == 3
    # Words already bridged elsewhere (recognised concepts) are left out, in any spelling.
    assert query_tokens("Pokrovsk offensive", skip=["Offensive"]) == [pokrovsk]
    assert query_tokens("Pokrovsk offensive", skip=["Покровськ", "offensive"]) == []
    assert query_tokens("") == [] and query_tokens("   ") == []


def test_fold_keeps_order_and_repeats() -> None:
    assert fold("Pokrovsk, Kharkiv; Pokrowsk!") == ["pakravsk", "harkav", "pakravsk"]


def test_french_elision_is_not_part_of_the_name() -> None:
    text = "Les troupes sont entrées dans le village d'Otcheretyne, au nord-ouest d'Avdiïvka. L'Ivanovets a coulé."
    tokens = name_tokens([text])
    for name in ("Ocheretyne", "Avdiivka", "Ivanovets"):
        assert fold_word(name)[0] in tokens, name
    assert query_tokens("d'Otcheretyne") == place_forms(fold_word("Ocheretyne"))
    # A Ukrainian apostrophe inside a word is no elision.
    assert fold_word("Об'єднаних") == fold_word("Обєднаних")


def test_letters_without_decomposition_are_spelled_out() -> None:
    assert fold_word("Łódź") == fold_word("Lodz")
    assert fold_word("Straße") == fold_word("Strasse")


def test_place_adjective_forms_fold_like_the_articles_adjectives() -> None:
    """A typed place name also bridges to its Slavic place adjective, as uk/ru/pl news name a
    community, district or region ("З Борівської громади" for Borova): the query-side form is the
    skeleton the article's adjective folds to, with repeated classes merged as in every skeleton."""
    for place, adjectives in {"Borova": ["Борівської", "Боровская", "Borowski"],
                              "Izium": ["Ізюмського", "Изюмский"],
                              "Odesa": ["Одеська", "Одесской"],
                              "Lviv": ["Львівська", "Львовской"]}.items():
        forms = place_forms(fold_word(place))
        assert forms[0] == fold_word(place)[0]
        for adjective in adjectives:
            assert fold_word(adjective)[0] in forms, (place, adjective, forms)


def test_no_place_adjective_for_short_skeletons_or_adjectives_already() -> None:
    # "pól" (fields) is ``pal``: + sk would be Polska's skeleton
    assert place_adjective(fold_word("pól")[0]) is None
    assert place_forms(fold_word("pól")) == fold_word("pól")
    # a skeleton ending in -sk is an adjective or a -sk town already (Pokrovsk, Sverdlovsk)
    assert place_adjective(fold_word("Sverdlovsk")[0]) is None
    assert place_forms(["svardlavsk", "svardlavsk"]) == ["svardlavsk"]


def test_query_words_carry_the_place_forms_once() -> None:
    words = dict(query_words("Borova children Борівської"))
    assert words["Borova"] == ["barav", "baravsk"]
    # the Ukrainian adjective's skeleton is already taken by Borova's forms: no repeat
    assert "Борівської" not in words
    assert query_tokens("Borova Borova") == ["barav", "baravsk"]
