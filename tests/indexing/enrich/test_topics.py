from __future__ import annotations

from pathlib import Path

import pytest

from indexing.enrich import TopicSet, load_topics
from indexing.enrich.topics import CORE_LANGUAGES
from indexing.errors import ConfigError

from .conftest import crude_text

REQUIRED = [
    "north-korean-troops-in-russia",
    "kursk-offensive",
    "drone-strikes",
    "energy-infrastructure-attacks",
    "prisoner-exchanges",
    "sanctions",
    "weapons-deliveries",
]


def test_shipped_topics_cover_core_languages(topics: TopicSet) -> None:
    for tid in REQUIRED:
        topic = topics.topics[tid]
        langs = {t.language for t in topic.terms}
        assert set(CORE_LANGUAGES) <= langs, (tid, langs)
        # every language has a literal phrase usable as a query expansion
        assert set(CORE_LANGUAGES) <= set(topic.plain_terms()), tid


def test_seed_article_gets_the_topic(topics: TopicSet, seed_page: str) -> None:
    title = "NATO bestätigt Präsenz nordkoreanischer Soldaten in Russland"
    assert topics.tag(title, crude_text(seed_page), "de")[0] == "north-korean-troops-in-russia"


@pytest.mark.parametrize(
    ("title", "body", "lang"),
    [
        ("Nordkoreanische Soldaten an der Front", "Tausende nordkoreanische Soldaten kämpfen in der russischen Region Kursk.", "de"),
        ("Pyongyang sends troops", "North Korea has sent about 10,000 troops to Russia, Kyiv says.", "en"),
        ("Des soldats nord-coréens", "Des milliers de soldats nord-coréens ont été déployés en Russie, selon Kyiv.", "fr"),
        ("Північнокорейські військові", "Північнокорейські військові вже перебувають на Курщині, повідомили в ГУР.", "uk"),
        ("Северокорейские солдаты", "Северокорейские военные прибыли в Курскую область России, сообщает Киев.", "ru"),
    ],
)
def test_north_korean_troops_in_five_languages(topics: TopicSet, title: str, body: str, lang: str) -> None:
    assert "north-korean-troops-in-russia" in topics.tag(title, body, lang)


@pytest.mark.parametrize(
    ("title", "body"),
    [
        # North Korea, but not troops in Russia
        ("Nordkorea testet neue Interkontinentalrakete",
         "Nordkorea hat erneut eine ballistische Rakete ins Japanische Meer abgefeuert. Südkorea und Japan verurteilten den Test."),
        ("North Korean soldiers cross the border",
         "Two North Korean soldiers crossed the demilitarised zone into South Korea and asked for asylum, Seoul said."),
        ("Kim Jong Un inspects troops in Pyongyang",
         "North Korean troops paraded in Pyongyang on Saturday as Kim Jong Un watched new missiles roll past."),
    ],
)
def test_north_korea_look_alikes_do_not_get_the_topic(topics: TopicSet, title: str, body: str) -> None:
    assert "north-korean-troops-in-russia" not in topics.tag(title, body, None)


def test_kursk_offensive_and_its_look_alikes(topics: TopicSet) -> None:
    offensive = (
        "Ukrainische Truppen rücken in der Region Kursk vor",
        "Der ukrainische Vorstoß in die russische Region Kursk geht weiter. Ukrainische Truppen haben "
        "die Kleinstadt Sudscha eingenommen, teilte Kiew mit. Moskau spricht von einer Offensive.",
    )
    assert "kursk-offensive" in topics.tag(*offensive, "de")
    ru = ("ВСУ продолжают наступление в Курской области",
          "Вторжение ВСУ в Курскую область продолжается, украинские войска заняли Суджу.")
    assert "kursk-offensive" in topics.tag(*ru, "ru")
    submarine = (
        "Kursk submarine disaster: 24 years on",
        "In August 2000 the Russian nuclear submarine Kursk sank in the Barents Sea. The rescue operation "
        "failed and all 118 sailors died. Families in Russia still ask why the submarine was lost; "
        "Putin was criticised for the slow response to the Kursk disaster.",
    )
    assert "kursk-offensive" not in topics.tag(*submarine, "en")
    battle = (
        "Die Schlacht bei Kursk 1943",
        "Die Schlacht bei Kursk im Sommer 1943 war eine der größten Panzerschlachten. Die Offensive der "
        "Wehrmacht bei Kursk scheiterte; die Rote Armee ging zur Gegenoffensive über.",
    )
    assert "kursk-offensive" not in topics.tag(*battle, "de")


@pytest.mark.parametrize(
    ("topic", "title", "body"),
    [
        ("drone-strikes", "Нічна атака дронів на Київ",
         "Росія атакувала Київ ударними безпілотниками. Сили ППО збили 40 дронів, повідомили у ЗСУ."),
        ("drone-strikes", "Attaque de drones sur Moscou",
         "Une attaque de drones a visé Moscou dans la nuit; la Russie dit avoir abattu 30 drones ukrainiens."),
        ("energy-infrastructure-attacks", "Массированный удар по энергетике Украины",
         "Россия нанесла ракетный удар по энергетической инфраструктуре Украины, повреждены ТЭС и подстанции. "
         "В Харькове введены отключения электроэнергии."),
        ("energy-infrastructure-attacks", "Russische Angriffe auf das Stromnetz",
         "Russland hat die ukrainische Energieinfrastruktur mit Raketen und Drohnen angegriffen. "
         "In Kiew kam es zu Stromausfällen."),
        ("prisoner-exchanges", "Обмін полоненими: додому повернулися 95 захисників",
         "Україна та Росія провели обмін полоненими за посередництва ОАЕ."),
        ("prisoner-exchanges", "Gefangenenaustausch zwischen Russland und der Ukraine", "Beide Seiten tauschten je 95 Kriegsgefangene aus."),
        ("sanctions", "EU beschließt 15. Sanktionspaket gegen Russland",
         "Die neuen Sanktionen treffen die russische Schattenflotte. Es ist das 15. Sanktionspaket."),
        ("weapons-deliveries", "Germany pledges new weapons deliveries to Ukraine",
         "Berlin will deliver more IRIS-T air defence systems to Ukraine; further weapons deliveries are planned."),
    ],
)
def test_other_war_topics(topics: TopicSet, topic: str, title: str, body: str) -> None:
    assert topic in topics.tag(title, body, None)


def test_war_topics_need_war_context(topics: TopicSet) -> None:
    gaza = ("Drone strike kills commander", "A drone strike in southern Lebanon killed a commander, officials said. "
            "Another drone attack hit a car near the border.")
    assert "drone-strikes" not in topics.tag(*gaza, "en")


def test_passing_mentions_do_not_tag_broad_topics(topics: TopicSet, seed_page: str) -> None:
    # the seed article mentions sanctions and weapons deliveries in passing
    tagged = topics.tag("NATO bestätigt Präsenz nordkoreanischer Soldaten in Russland", crude_text(seed_page), "de")
    assert "sanctions" not in tagged and "weapons-deliveries" not in tagged


def test_bad_topics_file_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "topics.yaml"
    bad.write_text("topics:\n  - id: t\n    label: T\n    terms: {en: [x y]}\n    exclude_terms: {en: [z]}\n")
    with pytest.raises(ConfigError) as exc:
        load_topics(bad)
    assert str(bad) in str(exc.value) and "'exclude_terms'" in str(exc.value)
    bad.write_text("topics:\n  - id: t\n    label: T\n    terms: {en: ['(a|b']}\n")
    with pytest.raises(ConfigError, match="terms.en"):
        load_topics(bad)
    bad.write_text("topics:\n  - id: t\n    label: T\n    terms: {en: ['@no-such-entity']}\n")
    with pytest.raises(ConfigError, match="no-such-entity"):
        load_topics(bad)


def test_custom_topic_file_with_near_and_groups(tmp_path: Path) -> None:
    f = tmp_path / "topics.yaml"
    f.write_text(
        "topics:\n  - id: grain\n    label: Grain corridor\n"
        "    terms:\n      en: ['(grain|wheat) NEAR/4 (corridor|ship*)']\n"
        "    require_any: {any: ['@odesa']}\n"
    )
    ts = load_topics(f)
    assert ts.tag("Grain ships leave Odesa", "", "en") == ["grain"]
    assert ts.tag("Grain ships leave Marseille", "", "en") == []
    assert ts.tag("Odesa", "The corridor is open, a spokesman said on Monday about the new harvest of grain.", "en") == []
