"""Normalisation and furniture: what compare() ignores, and what it must still see."""

from __future__ import annotations

import pytest

from indexing.changes.normalize import author_keys, clean_text, image_key, link_list_lines
from indexing.changes.notices import is_notice
from indexing.changes.quotes import find_quotes
from indexing.changes.sentences import split_sentences
from indexing.changes.units import analyse


def test_clean_text_unifies_spaces_dashes_apostrophes_and_drops_invisibles() -> None:
    assert clean_text("a\u00a0b\u202fc\u2009d  e") == "a b c d e"
    assert clean_text("res\u00adi\u200bdents\ufeff") == "residents"
    assert clean_text("2024\u20132027 \u2014 x\u2212y") == "2024-2027 - x-y"
    assert clean_text("don\u2019t \u043f\u02bc\u044f\u0442\u044c") == "don't п'ять"
    assert clean_text("ｆｕｌｌ１２") == "full12"


@pytest.mark.parametrize(("line", "language"), [
    ("Updated 5 minutes ago", "en"), ("Last updated: 2 hours ago", "en"), ("Aktualisiert vor 5 Minuten", "de"),
    ("Обновлено 5 минут назад", "ru"), ("Оновлено 3 години тому", "uk"), ("Zaktualizowano 15 minut temu", "pl"),
    ("Mis à jour il y a 20 minutes", "fr"), ("Actualizado hace 8 minutos", "es"), ("Updated: 7 Dec 2026, 14:35", "en"),
    ("Stand: 05.03.2024, 14:35 Uhr", "de"), ("3.214 views", "en"), ("3.214 Aufrufe", "de"), ("1 234 просмотра", "ru"),
    ("12 comments", "en"), ("1.2K shares", "en"), ("Lesezeit 4 Min.", "de"), ("5 min read", "en"),
    ("Время чтения 3 мин", "ru"), ("Advertisement", "en"), ("Anzeige", "de"), ("Реклама", "ru"), ("Reklama", "pl"),
    ("Publicité", "fr"), ("Share on Facebook", "en"), ("Read also: Kharkiv braces for more attacks", "en"),
    ("Lesen Sie auch: Wie die EU hilft", "de"), ("Читайте также: Как живёт приграничье", "ru"),
    ("Читайте також: Як працює ППО", "uk"), ("Czytaj też: Rząd przedłuża strefę", "pl"), ("Lire aussi : Comment", "fr"),
])
def test_furniture_lines_are_no_units(line: str, language: str) -> None:
    assert analyse(line, language) is None


@pytest.mark.parametrize(("line", "language"), [
    ("40 people were killed.", "en"), ("Share prices fell 5%.", "en"), ("Updated figures show 14 dead.", "en"),
    ("Реклама запрещена законом.", "ru"), ("Anzeige gegen Unbekannt erstattet.", "de"),
])
def test_sentences_that_use_furniture_words_are_kept(line: str, language: str) -> None:
    assert analyse(line, language) is not None


def test_a_number_word_alone_is_text_a_number_alone_is_furniture() -> None:
    assert analyse("zwei", "de") is not None and analyse("Forty.", "en") is not None
    assert analyse("12 408", "ru") is None


def test_keys_ignore_case_punctuation_quote_style_and_number_format() -> None:
    a = analyse('The mayor said "10,000 residents" lost power.', "en")
    b = analyse("the Mayor said “10 000 residents” lost power", "en")
    assert a is not None and b is not None and a.key == b.key


def test_dates_written_differently_are_one_token() -> None:
    keys = {analyse(f"It happened on {d}.", lang).key for d, lang in [  # type: ignore[union-attr]
        ("5 March 2024", "en"), ("March 5, 2024", "en"), ("05.03.2024", "en"), ("2024-03-05", "en"), ("3/5/2024", "en")]}
    assert len(keys) == 1
    assert analyse("Der Angriff am 5. März 2024 traf eine Schule.", "de").key == analyse(  # type: ignore[union-attr]
        "Der Angriff am 05.03.2024 traf eine Schule.", "de").key  # type: ignore[union-attr]
    assert analyse("Удар 5 марта 2024 года попал в школу.", "ru").key == analyse(  # type: ignore[union-attr]
        "Удар 05.03.2024 попал в школу.", "ru").key  # type: ignore[union-attr]
    assert analyse("It hit on 5 March 2024", "en").key != analyse("It hit on 6 March 2024", "en").key  # type: ignore[union-attr]
    assert analyse("Am 5. März 2024", "de") is None  # a date line alone is furniture


def test_relative_times_inside_a_sentence_are_masked() -> None:
    a, b = analyse("The strike, 5 hours ago, hit a school.", "en"), analyse("The strike, 7 hours ago, hit a school.", "en")
    assert a is not None and b is not None and a.key == b.key


def test_image_key_drops_cache_busting_and_size_only() -> None:
    assert image_key("https://cdn.x.com/i/a-800x450.jpg?itok=Ab&v=3") == image_key("https://CDN.x.com/i/a-1200x675.jpg?itok=Zz")
    assert image_key("https://img.x.com/w_1200,h_675/ship.jpg") == image_key("https://img.x.com/w_800,h_450/ship.jpg")
    assert image_key("https://x.com/img.php?id=5&w=100") != image_key("https://x.com/img.php?id=6&w=100")
    assert image_key("https://x.com/a.jpg") != image_key("https://x.com/b.jpg")


def test_author_keys_fold_prefixes_and_joined_names() -> None:
    assert author_keys(["By Anna Müller and J. Smith"]) == author_keys(["Anna Muller", "J Smith"])
    assert author_keys(["Von Julia Weber"]) == author_keys(["Julia Weber"])
    assert author_keys(["Anna Smith"]) != author_keys(["Anna Smith", "Petro Kovalenko"])
    assert author_keys([None, 5, "x"]) == frozenset({"x"})  # type: ignore[list-item]


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("Dr. Smith said 1.5 million fled. Nr. 5 was hit.", "en", ["Dr. Smith said 1.5 million fled.", "Nr. 5 was hit."]),
    ("Am 5. März kamen z. B. 40 Menschen. Dann gingen sie.", "de", ["Am 5. März kamen z. B. 40 Menschen.", "Dann gingen sie."]),
    ("Он сказал: «Мы не уйдём. Никогда». Потом ушёл.", "ru", ["Он сказал: «Мы не уйдём. Никогда».", "Потом ушёл."]),
    ("В 2023 г. Россия. Около 3 тыс. человек.", "ru", ["В 2023 г. Россия.", "Около 3 тыс. человек."]),
    ("北京下雨了。上海也下雨了。", "zh", ["北京下雨了。", "上海也下雨了。"]),
    ("J. K. Rowling wrote it. Really?! Yes…", "en", ["J. K. Rowling wrote it.", "Really?!", "Yes…"]),
    ("He counted 12. Then he left.", "en", ["He counted 12.", "Then he left."]),
])
def test_sentences(text: str, language: str, expected: list[str]) -> None:
    assert list(split_sentences(text, language)) == expected


def test_sentence_limit_bounds_the_output() -> None:
    assert len(list(split_sentences("Abc def. " * 10_000, "en", limit=50))) == 50


def test_quotes_in_every_style() -> None:
    text = "„Wir bleiben\", sagte er. «Non» et “yes” and 'maybe' but don't; 「はい」"
    assert [q.text for q in find_quotes(clean_text(text))] == ["Wir bleiben", "Non", "yes", "maybe", "はい"]


@pytest.mark.parametrize("text", [
    "Correction: An earlier version of this article misstated the toll.",
    "CORRECTION (March 6): The strike hit at 5:40.", "Update: The ministry revised the figure.",
    "Editor's note: names have been changed.", "An earlier version of this story said 40.",
    "Korrektur: In einer früheren Version hieß es 45.", "In einer früheren Version dieses Artikels hieß es 45.",
    "Исправление: в первоначальной версии говорилось о шести.", "Уточнение: заседание пройдёт 7 июня.",
    "Виправлення: у попередній версії було вказано 12.", "Sprostowanie: W poprzedniej wersji podaliśmy błędną kwotę.",
    "Rectificatif : une précédente version de cet article indiquait 15.", "Corrección: una versión anterior atribuía la cita.",
    "Update, March 6, 14:00: The toll rose.", "Aktualisiert um 14.30 Uhr: Die Zahl stieg.",
])
def test_correction_notices(text: str) -> None:
    assert is_notice(text)


@pytest.mark.parametrize("text", [
    "The correction of the figures took weeks.", "Updates to the system were installed.",
    "Korrekturen am Haushalt sind nötig.", "Исправление ошибок заняло неделю.",
    "Update on the talks: nothing new.",
])
def test_sentences_about_corrections_are_not_notices(text: str) -> None:
    assert not is_notice(text)


def test_a_list_of_links_under_its_heading_is_furniture() -> None:
    lines = ["Para one ends.", "More on this story", "Kharkiv braces for attacks", "Zelensky visits the front",
             "Next paragraph is a sentence.", "Sur le même sujet :", "Titre un", "Das könnte Sie auch interessieren",
             "Ein Titel"]
    assert link_list_lines(lines) == {1, 2, 3, 5, 6, 7, 8}
    assert link_list_lines(["Intro.", "Key points", "Short line one", "Short line two"]) == set()


def test_a_cross_link_label_needs_its_colon_or_the_line_to_itself() -> None:
    assert analyse("Related to this, the ministry said more.", "en") is not None
    assert analyse("Read more: Kharkiv braces", "en") is None
    assert analyse("More on this story", "en") is None


@pytest.mark.parametrize(("a", "b", "language"), [
    ("5 March 2024, 14:35 | By Anna Smith | 3,214 views", "5 March 2024, 14:35 | By Anna Smith | 5,120 views", "en"),
    ("05.03.2024 | Автор: Иван Петров | Просмотров: 12 408", "05.03.2024 | Автор: Иван Петров | Просмотров: 12 977", "ru"),
    ("Переглядів: 12 408. Коментарів: 3", "Переглядів: 13 001. Коментарів: 5", "uk"),
])
def test_audience_counters_are_masked_inside_a_line(a: str, b: str, language: str) -> None:
    ua, ub = analyse(a, language), analyse(b, language)
    assert (ua is None and ub is None) or (ua is not None and ub is not None and ua.key == ub.key)


@pytest.mark.parametrize("line", ["Kyiv +5°C", "Київ 14:35", "Comments (12)", "Anzeige: Jetzt testen", "Sponsored: Try it"])
def test_widget_and_ad_lines_are_furniture(line: str) -> None:
    assert analyse(line, "en") is None


def test_a_temperature_in_a_sentence_is_content() -> None:
    a, b = analyse("Temperatures fell to -20°C.", "en"), analyse("Temperatures fell to -25°C.", "en")
    assert a is not None and b is not None and a.key != b.key
