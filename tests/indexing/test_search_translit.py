"""Names the gazetteer does not know, found across scripts through ``names_translit`` (real node).

A village reported in five languages (Ocheretyne / Otscheretyne / Otcheretyne / Очеретине /
Очеретино, inflected as the languages do; the first of CANDIDATES the gazetteer does not know), a place the gazetteer knows (Pokrovsk), look-alikes that share
words but no name (another offensive, another village with a near-identical name), on top of
the multilingual search corpus of test_search.py as background.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from indexing.engine import Engine, connect
from indexing.index.setup import setup_indices
from indexing.search import Expansion, build_query, search, translit_clause
from indexing.settings import get_settings
from tests.indexing.search_corpus import corpus, index_articles, search_options

#: Villages for the story about an unknown name, each spelled as the five languages write it
#: (uk/ru also inflected). The gazetteer grows (config/entities.yaml): the test uses the first one
#: it does not know, so it keeps testing the bridge rather than the gazetteer.
CANDIDATES: list[dict[str, str]] = [
    {"en": "Ocheretyne", "de": "Otscheretyne", "de_gen": "Otscheretynes", "fr": "Otcheretyne",
     "uk": "Очеретине", "uk_obl": "Очеретиному", "ru": "Очеретино", "ru_obl": "Очеретина"},
    {"en": "Novohrodivka", "de": "Nowohrodiwka", "de_gen": "Nowohrodiwkas", "fr": "Novohrodivka",
     "uk": "Новогродівка", "uk_obl": "Новогродівкою", "ru": "Новогродовка", "ru_obl": "Новогродовки"},
    {"en": "Mykhailivka", "de": "Michajliwka", "de_gen": "Michajliwkas", "fr": "Mykhaïlivka",
     "uk": "Михайлівка", "uk_obl": "Михайлівкою", "ru": "Михайловка", "ru_obl": "Михайловки"},
]


def _unknown_name() -> dict[str, str]:
    from indexing.enrich import expand_query

    for cand in CANDIDATES:
        if not any(expand_query(cand[k]).entities for k in ("en", "de", "fr", "uk", "ru")):
            return cand
    raise AssertionError("every candidate village is in the gazetteer now: add an unknown one to CANDIDATES")


def _village_story(n: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        "en": {"title": f"Russian forces press their offensive on {n['en']}",
               "body": f"Russian troops attacked {n['en']} from three directions overnight, the Ukrainian general "
                       f"staff said. Fighting in the streets of {n['en']} continued on Wednesday.\n\nThe "
                       "village's last residents are being evacuated."},
        "de": {"title": f"Russische Offensive auf {n['de']}",
               "body": f"Russische Truppen haben {n['de']} in der Nacht aus drei Richtungen angegriffen, teilte der "
                       f"ukrainische Generalstab mit. Die Kämpfe in den Straßen {n['de_gen']} dauerten an.\n\nDie "
                       "letzten Einwohner werden evakuiert."},
        "fr": {"title": f"L'armée russe intensifie son offensive sur {n['fr']}",
               "body": f"Les troupes russes ont attaqué {n['fr']} par trois côtés pendant la nuit, selon "
                       "l'état-major ukrainien. Les combats se poursuivaient mercredi dans les rues du "
                       "village.\n\nLes derniers habitants sont évacués."},
        "uk": {"title": f"Російські війська наступають на {n['uk']}",
               "body": f"Вночі російські війська атакували {n['uk']} з трьох напрямків, повідомив Генштаб. Бої на "
                       f"вулицях села тривали в середу, за {n['uk_obl']} ситуація складна.\n\nОстанніх "
                       "мешканців евакуюють."},
        "ru": {"title": f"Российские войска наступают на {n['ru']}",
               "body": f"Ночью российские войска атаковали {n['ru']} с трёх направлений, сообщил Генштаб ВСУ. Бои "
                       f"на улицах {n['ru_obl']} продолжались в среду.\n\nПоследних жителей эвакуируют."},
    }


VILLAGE = _unknown_name()
NAMES: dict[str, dict[str, dict[str, str]]] = {
    "village": _village_story(VILLAGE),
    "pokrovsk": {
        "en": {"title": "Pokrovsk offensive: Russian troops reach the outskirts",
               "body": "Russian troops reached the southern outskirts of Pokrovsk, a logistics hub, the Ukrainian "
                       "army said. The Pokrovsk offensive has lasted for months."},
        "de": {"title": "Russische Truppen erreichen den Stadtrand von Pokrowsk",
               "body": "Russische Einheiten haben den südlichen Stadtrand von Pokrowsk erreicht, teilte die "
                       "ukrainische Armee mit. Die Offensive auf Pokrowsk dauert seit Monaten an."},
        "uk": {"title": "Російські війська вийшли на околиці Покровська",
               "body": "Російські підрозділи вийшли на південні околиці Покровська, повідомили в ЗСУ. Наступ на "
                       "Покровськ триває кілька місяців."},
        "ru": {"title": "Российские войска вышли к окраинам Покровска",
               "body": "Российские подразделения вышли к южным окраинам Покровска, сообщили в ВСУ. Наступление на "
                       "Покровск продолжается несколько месяцев."},
    },
    # A village the gazetteer lacks, named only by its community's adjective, as uk/ru news name
    # communities, districts and regions ("З Борівської громади" for Borova): place_forms.
    "community": {
        "uk": {"title": "З Борівської громади примусово евакуюють дітей",
               "body": "Обласна адміністрація оголосила примусову евакуацію сімей з дітьми з сіл Борівської "
                       "громади через обстріли. Йдеться про 274 дитини."},
        "ru": {"title": "Из Боровской громады принудительно эвакуируют детей",
               "body": "Областная администрация объявила принудительную эвакуацию семей с детьми из сёл "
                       "Боровской громады из-за обстрелов."},
    },
}

#: Share words ("offensive", "troops", "Наступ") or a near-identical name, but not the place.
LOOKALIKES: list[dict[str, str]] = [
    {"language": "en", "title": "Ukrainian offensive gains ground near Robotyne",
     "body": "Ukrainian troops advanced south of Robotyne in a new offensive, the general staff said. Russian "
             "forces attacked from three directions overnight."},
    {"language": "de", "title": "Offensive bei Welyka Nowosilka",
     "body": "Russische Truppen haben bei Welyka Nowosilka eine neue Offensive begonnen, teilte der Generalstab "
             "mit. Die Kämpfe dauerten die ganze Nacht an."},
    {"language": "uk", "title": "Російські війська наступають біля Курахівки",
     "body": "Вночі російські війська атакували позиції біля села Курахівка, повідомив Генштаб. Бої в "
             "Курахівці тривали в середу."},
    {"language": "ru", "title": "Наступление у Великой Новосёлки",
     "body": "Российские войска начали наступление у Великой Новосёлки, сообщил Генштаб. Бои шли всю ночь."},
]

QUERIES = {
    "village": [f"{VILLAGE['en']} offensive", f"Offensive {VILLAGE['de']}", f"offensive {VILLAGE['fr']}",
                VILLAGE["en"].lower(), VILLAGE["uk"]],
    "pokrovsk": ["Pokrovsk offensive", "Pokrowsk Offensive"],
    "community": ["Borova evacuation", "Evakuierung Borowa"],
}


def _articles() -> list[dict[str, Any]]:
    out = []
    for name, langs in NAMES.items():
        for lang, art in langs.items():
            out.append({**art, "language": lang, "story": name, "source": f"names-{lang}",
                        "published": "2024-11-07T08:00:00+00:00", "url": f"https://{lang}.names.example/{name}"})
    for i, art in enumerate(LOOKALIKES):
        out.append({**art, "story": None, "source": "names-lookalikes", "published": "2024-11-07T09:00:00+00:00",
                    "url": f"https://{art['language']}.names.example/lookalike-{i}"})
    return out


@pytest.fixture(scope="module")
def indexed(es_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from indexing.settings import reset_settings
    from tests.conftest import _cleanup_prefix

    prefix = f"ww-test-{uuid.uuid4().hex[:8]}-"
    saved = {k: os.environ.get(k) for k in ("WARWATCH_ES_URL", "WARWATCH_INDEX_PREFIX", "WARWATCH_DATA_DIR")}
    os.environ.update({"WARWATCH_ES_URL": es_url, "WARWATCH_INDEX_PREFIX": prefix,
                       "WARWATCH_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    reset_settings()
    engine = connect(get_settings())
    try:
        setup_indices(engine, get_settings().index_prefix)
        articles = _articles()
        counts = index_articles(engine, [*corpus(), *articles])
        assert counts["failed"] == 0
        yield {"engine": engine, "prefix": prefix, "articles": articles}
    finally:
        engine.close()
        _cleanup_prefix(es_url, prefix)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        reset_settings()


@pytest.fixture
def env(indexed: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from indexing.settings import reset_settings

    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", indexed["prefix"])
    reset_settings()
    return indexed


def _check(engine: Engine, articles: list[dict[str, Any]], name: str, query: str, **kw: Any) -> None:
    coverage = {a["url"] for a in articles if a["story"] == name}
    lookalikes = {a["url"] for a in articles if a["story"] is None}
    hits = search(query, engine=engine, size=10, **kw, **search_options(get_settings())).hits
    urls = [h.url for h in hits]
    shown = [(h.language, h.title, round(h.score or 0, 2)) for h in hits]
    assert coverage <= set(urls), (query, sorted(coverage - set(urls)), shown)
    last_coverage = max(urls.index(u) for u in coverage)
    first_lookalike = min((urls.index(u) for u in lookalikes & set(urls)), default=len(urls))
    assert last_coverage < first_lookalike, (query, shown)


@pytest.mark.parametrize(("name", "query"), [(n, q) for n, qs in QUERIES.items() for q in qs])
def test_every_script_found_and_lookalikes_below(env: dict[str, Any], name: str, query: str) -> None:
    _check(env["engine"], env["articles"], name, query)


@pytest.mark.parametrize(("name", "query"), [("pokrovsk", "Pokrovsk offensive"),
                                             ("village", f"{VILLAGE['en']} offensive")])
def test_the_bridge_alone_finds_other_scripts(env: dict[str, Any], name: str, query: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Without query expansion (as for a name the gazetteer does not know), the translit clause
    alone finds the Cyrillic and German reports. For the unknown name, without the clause they are
    not found at all (a known name is still found through the entity labels in text_all)."""
    import indexing.search as search_module

    monkeypatch.setattr(search_module, "expand", lambda q: Expansion())
    _check(env["engine"], env["articles"], name, query)
    if name == "village":
        others = {a["url"] for a in env["articles"] if a["story"] == name and a["language"] in ("uk", "ru")}
        without = {h.url for h in search(query, engine=env["engine"], size=50, translit=False, **search_options(get_settings())).hits}
        assert not others & without


def test_a_place_is_found_through_its_adjective_and_only_so(env: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """"Borova evacuation" finds the Ukrainian and Russian reports that name only "Борівської
    громади" / "Боровской громады" (the community's adjective), and without the place-adjective
    forms it does not find them at all."""
    import indexing.translit as translit

    query = "Borova evacuation"
    coverage = {a["url"] for a in env["articles"] if a["story"] == "community"}
    found = {h.url for h in search(query, engine=env["engine"], size=10, **search_options(get_settings())).hits}
    assert coverage <= found
    monkeypatch.setattr(translit, "place_forms", lambda skeletons: list(dict.fromkeys(skeletons)))
    without = {h.url for h in search(query, engine=env["engine"], size=50, **search_options(get_settings())).hits}
    assert not coverage & without


def test_names_translit_is_stored(env: dict[str, Any]) -> None:
    from indexing.index.setup import articles_alias
    from indexing.translit import fold_word

    resp = env["engine"].search(articles_alias(get_settings().index_prefix), {
        "query": {"term": {"names_translit": fold_word(VILLAGE["en"])[0]}}, "size": 20, "_source": ["url"]})
    urls = {h["_source"]["url"] for h in resp["hits"]["hits"]}
    assert urls == {a["url"] for a in env["articles"] if a["story"] == "village"}


def test_clause_shape() -> None:
    clause = translit_clause("Kurakhove offensive", Expansion())
    assert clause is not None
    first = clause["bool"]["should"][0]["bool"]
    assert first["must"][0]["match"]["names_translit"]["query"] == "karahav karahavsk"  # + the place adjective
    assert first["must_not"][0]["multi_match"]["query"] == "Kurakhove"
    assert translit_clause("title:Kurakhove", Expansion()) is None  # explicit: exactly what it says
    assert translit_clause("the", Expansion()) is None
    recognised = Expansion(groups=[{"en": ["Pokrovsk"], "uk": ["Покровськ"]}], kinds=["entity"],
                           entities=["pokrovsk"])
    assert translit_clause("Pokrovsk", recognised) is None  # left to the entity tags
    names = [c for c in build_query("Kurakhove", Expansion())["bool"]["should"] if "names_translit" in str(c)]
    assert len(names) == 1
    assert "names_translit" not in str(build_query("Kurakhove", Expansion(), translit=False))


def test_name_inside_a_topic_phrase_stays_part_of_the_query() -> None:
    """'corvette Ivanovets sunk': the topic's NEAR term spans the name, which must stay a query
    word of its own (the story is the topic *and* the ship)."""
    from indexing.enrich import expand_query
    from indexing.search import Expansion, complete_clause, expand

    exp = expand_query("corvette Ivanovets sunk")
    assert exp.topics and "Ivanovets" in exp.residual.split()
    ours = expand("corvette Ivanovets sunk")
    clause = complete_clause(ours, ["body_en"])
    assert clause is not None
    must = clause["constant_score"]["filter"]["bool"]["must"]
    assert {"term": {"topics": exp.topics[0]}} in must and len(must) == 2
    # One part alone gets no completeness bonus: the topic bonus already rewards it.
    assert complete_clause(Expansion(topics=["drone-strikes"]), ["body_en"]) is None
