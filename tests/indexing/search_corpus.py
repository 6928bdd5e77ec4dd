"""A small multilingual corpus for the search tests: three stories, each covered in German,
English, French, Ukrainian and Russian, plus look-alike articles that share words or places
with a story without being about it. Written for these tests; not tuned to the ranking."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from indexing.settings import Settings, get_settings


def search_options(settings: Settings) -> dict[str, Any]:
    """What a test hands :func:`indexing.search.search` from ``settings``, as the CLI does: the
    articles alias, the search settings and the embedding settings (the vector half)."""
    return {"index": settings.articles_alias, "settings": settings.search, "embeddings": settings.embeddings}


STORIES: dict[str, dict[str, dict[str, str]]] = {
    "nk-troops": {
        "de": {
            "title": "Südkorea: Tausende nordkoreanische Soldaten in Russland eingetroffen",
            "body": "Nach Angaben des südkoreanischen Geheimdienstes sind mehrere Tausend Soldaten aus Nordkorea "
                    "in Russland angekommen. Die Truppen sollen zunächst in Lagern im Fernen Osten ausgebildet "
                    "und später an die Front in der Region Kursk verlegt werden.\n\nDie Ukraine spricht von "
                    "einer gefährlichen Eskalation und fordert eine klare Reaktion ihrer Partner.",
        },
        "en": {
            "title": "Pentagon says North Korean soldiers are moving towards the front",
            "body": "The Pentagon said on Tuesday that thousands of North Korean soldiers sent to Russia are "
                    "moving towards the Kursk region, where Ukrainian forces hold territory.\n\nOfficials "
                    "warned that the deployment of troops from Pyongyang marks a new phase of the war.",
        },
        "fr": {
            "title": "Des soldats nord-coréens en route vers le front de Koursk",
            "body": "Selon Washington, plusieurs milliers de soldats nord-coréens envoyés en Russie se "
                    "dirigent vers la région de Koursk.\n\nKiev dénonce une escalade et demande à ses alliés "
                    "davantage d'armes pour répondre à ce déploiement de troupes de Pyongyang.",
        },
        "uk": {
            "title": "Північнокорейські військові прямують до Курської області",
            "body": "За даними розвідки, кілька тисяч військових з Північної Кореї, яких направили до Росії, "
                    "прямують до Курської області.\n\nУ Києві це називають небезпечною ескалацією війни "
                    "та закликають партнерів до рішучої відповіді.",
        },
        "ru": {
            "title": "Северокорейские военные направляются в Курскую область",
            "body": "По данным западных разведок, несколько тысяч военнослужащих из Северной Кореи, "
                    "прибывших в Россию, направляются в Курскую область.\n\nВ Киеве называют это опасной "
                    "эскалацией и призывают союзников к ответу.",
        },
    },
    "prisoner-exchange": {
        "de": {
            "title": "Ukraine und Russland tauschen Hunderte Kriegsgefangene aus",
            "body": "Bei einem Gefangenenaustausch unter Vermittlung der Vereinigten Arabischen Emirate sind "
                    "Hunderte ukrainische Kriegsgefangene freigekommen.\n\nAuch Russland erhielt eigene "
                    "Soldaten zurück. Es war einer der größten Austausche seit Beginn des Krieges.",
        },
        "en": {
            "title": "Ukraine and Russia swap hundreds of prisoners of war",
            "body": "Hundreds of Ukrainian prisoners of war returned home on Saturday in a prisoner exchange "
                    "mediated by the United Arab Emirates.\n\nRussia also received its soldiers back in one "
                    "of the largest swaps since the start of the war.",
        },
        "fr": {
            "title": "L'Ukraine et la Russie échangent des centaines de prisonniers de guerre",
            "body": "Des centaines de prisonniers de guerre ukrainiens sont rentrés samedi lors d'un échange "
                    "de prisonniers négocié par les Émirats arabes unis.\n\nLa Russie a elle aussi récupéré "
                    "ses soldats.",
        },
        "uk": {
            "title": "Україна повернула з полону сотні військовополонених",
            "body": "У суботу відбувся обмін полоненими за посередництва Об'єднаних Арабських Еміратів: "
                    "додому повернулися сотні українських захисників.\n\nРосія також отримала своїх "
                    "військових.",
        },
        "ru": {
            "title": "Россия и Украина провели обмен военнопленными",
            "body": "В субботу Россия и Украина провели обмен пленными при посредничестве Объединённых "
                    "Арабских Эмиратов: домой вернулись сотни военнопленных.\n\nЭто один из крупнейших "
                    "обменов с начала войны.",
        },
    },
    "drones": {
        "de": {
            "title": "Nächtlicher Drohnenangriff auf Odessa beschädigt Hafen und Stromnetz",
            "body": "Russland hat die Hafenstadt Odessa in der Nacht mit Dutzenden Kampfdrohnen angegriffen. "
                    "Mehrere Umspannwerke wurden beschädigt, Zehntausende Haushalte sind ohne Strom.\n\nDie "
                    "Luftabwehr schoss nach eigenen Angaben den Großteil der Drohnen ab.",
        },
        "en": {
            "title": "Overnight drone attack on Odesa damages port and power grid",
            "body": "Russia attacked the port city of Odesa overnight with dozens of attack drones. Several "
                    "substations were damaged and tens of thousands of homes lost power.\n\nAir defence said "
                    "it shot down most of the drones.",
        },
        "fr": {
            "title": "Attaque de drones nocturne sur Odessa: le port et le réseau électrique touchés",
            "body": "La Russie a attaqué Odessa pendant la nuit avec des dizaines de drones. Plusieurs "
                    "sous-stations ont été endommagées et des dizaines de milliers de foyers sont privés "
                    "d'électricité.\n\nLa défense aérienne affirme avoir abattu la plupart des drones.",
        },
        "uk": {
            "title": "Нічна атака дронів на Одесу: пошкоджено порт і енергосистему",
            "body": "Вночі Росія атакувала Одесу десятками ударних дронів. Пошкоджено кілька підстанцій, "
                    "десятки тисяч домівок залишилися без світла.\n\nСили ППО збили більшість дронів.",
        },
        "ru": {
            "title": "Ночная атака дронов на Одессу: повреждены порт и энергосистема",
            "body": "Ночью Россия атаковала Одессу десятками ударных дронов. Повреждены несколько "
                    "подстанций, десятки тысяч домов остались без света.\n\nПВО сбила большую часть дронов.",
        },
    },
}

#: Articles that share words, names or places with a story but are not about it.
LOOKALIKES: list[dict[str, str]] = [
    {"language": "en", "title": "North Korea test-fires ballistic missile into the sea",
     "body": "North Korea fired a ballistic missile into the sea on Thursday, South Korea's military said. "
             "The launch came as troops of South Korea and the United States held joint exercises."},
    {"language": "de", "title": "Nordkorea: Kim Jong Un besucht Raketenfabrik",
     "body": "Nordkoreas Machthaber Kim Jong Un hat eine Raketenfabrik besucht und eine Ausweitung der "
             "Produktion angeordnet. Beobachter sehen darin eine Botschaft an Südkorea."},
    {"language": "en", "title": "Russian troops push to regain ground in Kursk region",
     "body": "Russian troops launched new attacks to push Ukrainian forces out of the Kursk region, the "
             "Russian defence ministry said. Fighting continued near Sudzha."},
    {"language": "fr", "title": "Prisonniers: le rapport sur les conditions de détention en France",
     "body": "Le contrôleur général des lieux de privation de liberté publie son rapport annuel sur les "
             "prisons françaises et la surpopulation carcérale."},
    # Tagged with the topic for one sentence in passing: it must still rank below real coverage.
    {"language": "en", "title": "Washington allows Kyiv to strike deeper into Russia with long-range missiles",
     "body": "The United States will let Ukraine use long-range missiles against targets inside Russia, "
             "officials said. The change of policy follows months of requests from Kyiv and debates among "
             "allies about escalation.\n\nOfficials described the decision as a response to the deployment "
             "of North Korean troops. Ukraine's defence minister welcomed the step and said the missiles "
             "would be used against airfields and ammunition depots. Moscow warned of consequences."},
    {"language": "de", "title": "Drohnen-Show in Odessa begeistert Besucher am Strand",
     "body": "Hunderte Drohnen formten am Abend über dem Strand leuchtende Bilder. Die Veranstalter "
             "sprechen von einem Zeichen der Hoffnung."},
]

QUERIES: dict[str, list[str]] = {
    "nk-troops": ["North Korean troops", "nordkoreanische Truppen", "soldats nord-coréens"],
    "prisoner-exchange": ["prisoner exchange", "Gefangenenaustausch", "échange de prisonniers"],
    "drones": ["drone attack Odesa", "Drohnenangriff Odessa", "attaque de drones Odessa"],
}


def corpus() -> list[dict[str, Any]]:
    """Article dicts (as from extraction) with ``story`` and a stable fake URL."""
    out: list[dict[str, Any]] = []
    for story, langs in STORIES.items():
        for lang, art in langs.items():
            out.append({**art, "language": lang, "story": story, "source": f"corpus-{lang}",
                        "published": "2024-11-05T08:00:00+00:00",
                        "url": f"https://{lang}.news.example/{story}"})
    for i, art in enumerate(LOOKALIKES):
        out.append({**art, "story": None, "source": "lookalikes", "published": "2024-11-04T08:00:00+00:00",
                    "url": f"https://{art['language']}.other.example/lookalike-{i}"})
    return out


def index_articles(engine: Any, articles: list[dict[str, Any]], *, source: str = "test") -> dict[str, int]:
    """Enrich, convert and bulk-index article dicts; refreshes the alias. Returns bulk counts."""
    from indexing.enrich import enrich
    from indexing.index.bulk import index_documents
    from indexing.index.documents import article_to_document

    docs = []
    for art in articles:
        docs.append(article_to_document(art, source=art.get("source", source), url=art["url"],
                                        fetched_at="2024-11-06T00:00:00+00:00", enrichment=enrich(art)))
    counts = index_documents(engine, docs, settings=get_settings())
    from indexing.index.setup import articles_alias

    engine.refresh(articles_alias(get_settings().index_prefix))
    return counts


@contextmanager
def fresh_index(es_url: str) -> Iterator[tuple[Any, str]]:
    """An engine connection and a new index prefix of its own, set up, for a module-scoped
    fixture: the settings point at it meanwhile; afterwards the vector matrices are forgotten
    and every index of the prefix is removed."""
    from indexing.embeddings.matrix import forget_matrices
    from indexing.engine import connect
    from indexing.index.setup import setup_indices
    from indexing.settings import reset_settings
    from tests.conftest import _cleanup_prefix

    prefix = f"ww-test-{uuid.uuid4().hex[:8]}-"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WARWATCH_ES_URL", es_url)
        mp.setenv("WARWATCH_INDEX_PREFIX", prefix)
        reset_settings()
        engine = connect(get_settings())
        setup_indices(engine, get_settings().index_prefix)
        try:
            yield engine, prefix
        finally:
            forget_matrices()
            _cleanup_prefix(es_url, prefix)
            reset_settings()
