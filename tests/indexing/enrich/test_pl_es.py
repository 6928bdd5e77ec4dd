"""Polish and Spanish coverage of the shipped gazetteer and topics: war stories in pl/es get
their topics and entities (Polish case forms included), everyday pl/es stories get no war topic
and no war entity (false friends: a street named after Kyiv, 'nawalne opady', 'ensaladilla
rusa'), and English queries expand into Polish and Spanish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from indexing.enrich import Gazetteer, TopicSet, enrich, expand_query
from indexing.enrich.topics import CORE_LANGUAGES

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "enrich-pl-es" / "articles.yaml"
DATA: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
WAR_ENTITIES = set(DATA["war_entities"])


@pytest.mark.parametrize("key", sorted(DATA["war"]))
def test_war_story_gets_topics_and_entities(key: str, topics: TopicSet, gazetteer: Gazetteer) -> None:
    art = DATA["war"][key]
    doc = enrich({"title": art["title"], "body": art["body"], "language": art["language"]},
                 topics=topics, gazetteer=gazetteer)
    assert set(art["topics"]) <= set(doc["topics"]), (key, doc["topics"])
    missing = set(art["entities"]) - set(doc["entity_ids"])
    assert not missing, (key, missing, doc["entity_ids"])


@pytest.mark.parametrize("key", sorted(DATA["unrelated"]))
def test_unrelated_story_gets_no_war_topic_or_entity(key: str, topics: TopicSet, gazetteer: Gazetteer) -> None:
    art = DATA["unrelated"][key]
    doc = enrich({"title": art["title"], "body": art["body"], "language": art["language"]},
                 topics=topics, gazetteer=gazetteer)
    assert doc["topics"] == [], (key, doc["topics"])
    assert not WAR_ENTITIES & set(doc["entity_ids"]), (key, doc["entity_ids"])


@pytest.mark.parametrize(
    ("entity_id", "sentence"),
    [
        ("zaporizhzhia", "Eksplozje w Zaporożu i pod Zaporożem."),
        ("zaporizhzhia", "Ataque ruso contra Zaporiyia."),
        ("kharkiv", "Ostrzał Charkowa trwał całą noc."),
        ("kharkiv", "Bombardeo en Járkov."),
        ("kyiv", "Delegacja przyjechała do Kijowa."),
        ("kyiv", "Syreny w Kijowie."),
        ("kherson", "Ewakuacja z Chersonia."),
        ("kherson", "Explosiones en Jersón."),
        ("bakhmut", "Walki o Bachmut; obrona Bachmutu."),
        ("bakhmut", "La batalla de Bajmut."),
        ("volodymyr-zelensky", "Spotkanie z Zełenskim; słowa Zełenskiego."),
        ("vladimir-putin", "Rozmowa z Putinem."),
        ("sergei-shoigu", "Declaraciones de Shoigú."),
        ("sergei-shoigu", "Siergiej Szojgu przyjechał."),
        ("moscow", "Delegacja z Moskwy."),
        ("russia", "Sankcje wobec Rosji."),
        ("ukraine", "Pomoc dla Ukrainy."),
        ("north-korea", "Żołnierze z Korei Północnej."),
    ],
)
def test_polish_and_spanish_name_forms(entity_id: str, sentence: str, gazetteer: Gazetteer) -> None:
    assert entity_id in {m.id for m in gazetteer.find(sentence)}, sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "Mieszkam przy ulicy Kijowskiej.",  # a street named after Kyiv: an adjective, not the city
        "Nawalne opady i burze w całym kraju.",
        "Kupiłem bilet na montaña rusa.",
        "Ensaladilla rusa con atún.",
        "Pierogi ruskie z cebulką.",
        "Sumienie, suma i sumak.",  # Sumy's stem is not a pattern
        "Winnica pod Zieloną Górą produkuje wino.",  # Winnica (vineyard) is not a label of Vinnytsia
    ],
)
def test_polish_spanish_false_friends_are_not_war_entities(sentence: str, gazetteer: Gazetteer) -> None:
    found = {m.id for m in gazetteer.find(sentence)}
    assert not found & (WAR_ENTITIES | {"vinnytsia", "sumy", "kyiv"}), (sentence, found)


def test_every_entity_and_topic_has_polish_and_spanish_labels(topics: TopicSet, gazetteer: Gazetteer) -> None:
    # Four Polish names are common words (Katar = a cold, Dania = dishes, Winnica = vineyard,
    # Indie = indie); those entities keep aliases in Polish but no Polish label.
    no_pl_label = {"qatar", "denmark", "vinnytsia", "india", "khmelnytskyi"}
    for ent in gazetteer.entities.values():
        assert "es" in ent.labels, ent.id
        assert ("pl" in ent.labels) != (ent.id in no_pl_label), ent.id
    assert {"pl", "es"} <= set(CORE_LANGUAGES)
    for topic in topics.topics.values():
        assert {"pl", "es"} <= set(topic.label), topic.id
        assert {"pl", "es"} <= set(topic.plain_terms()), topic.id


def test_english_queries_expand_into_polish_and_spanish(topics: TopicSet, gazetteer: Gazetteer) -> None:
    exp = expand_query("North Korean troops", topics, gazetteer)
    assert "north-korean-troops-in-russia" in exp.topics
    assert "tropas norcoreanas" in exp.for_language("es")
    assert "wojska północnokoreańskie" in exp.for_language("pl")
    # the adjective recognises North Korea; its Polish/Spanish adjectives are wildcard forms
    exp = expand_query("North Korean", topics, gazetteer)
    assert "north-korea" in exp.entities
    assert {"północnokoreańsk*", "norcorean*"} <= set(exp.wildcard_terms)
    exp = expand_query("Zaporizhzhia", topics, gazetteer)
    assert {"Zaporoże", "Zaporiyia"} <= set(exp.terms)
    exp = expand_query("Russian", topics, gazetteer)
    assert "rosyjsk*" in exp.wildcard_terms and "ruso" in exp.terms


def test_polish_and_spanish_queries_are_recognised(topics: TopicSet, gazetteer: Gazetteer) -> None:
    assert "north-korean-troops-in-russia" in expand_query("północnokoreańscy żołnierze", topics, gazetteer).topics
    assert "zaporizhzhia" in expand_query("atak na Zaporoże", topics, gazetteer).entities
    assert "kharkiv" in expand_query("bombardeo de Járkov", topics, gazetteer).entities


@pytest.mark.parametrize(
    ("topic_id", "title", "body"),
    [
        ("prisoner-exchanges", "Kolejna wymiana jeńców między Ukrainą a Rosją",
         "Do Ukrainy wróciło 150 jeńców. Wymiana jeńców odbyła się przy granicy z Białorusią, podał Zełenski."),
        ("prisoner-exchanges", "Nuevo intercambio de prisioneros entre Ucrania y Rusia",
         "Un total de 150 prisioneros de guerra ucranianos fueron liberados y regresaron a Ucrania, dijo Zelenski."),
        ("sanctions", "UE przyjęła 19. pakiet sankcji wobec Rosji",
         "Sankcje obejmują rosyjski LNG i flotę cieni. Kolejne sankcje zapowiedziano na jesień."),
        ("sanctions", "La UE aprueba un nuevo paquete de sanciones contra Rusia",
         "Las sanciones afectan al gas natural licuado ruso y a los petroleros de la flota fantasma; habrá más sanciones."),
        ("peace-talks", "Rozmowy pokojowe: Kijów nie zgodzi się na oddanie Donbasu",
         "Zawieszenie broni jest możliwe tylko po wycofaniu rosyjskich wojsk, powiedział Zełenski."),
        ("peace-talks", "Conversaciones de paz: Kiev rechaza ceder el Donbás",
         "Un alto el fuego solo será posible si Rusia retira sus tropas, dijo Zelenski."),
        ("deportation-of-children", "Kolejne dzieci wywiezione do Rosji wróciły na Ukrainę",
         "Dzięki mediacji Kataru 12 dzieci deportowanych z obwodu chersońskiego powróciło do rodzin w Kijowie."),
        ("deportation-of-children", "Regresan a Ucrania once niños deportados a Rusia",
         "Los menores fueron deportados desde la región de Jersón; su retorno lo negoció Catar, informó Kiev."),
        ("mobilisation", "Ukraina obniża wiek mobilizacyjny",
         "Rada Najwyższa Ukrainy przyjęła ustawę o mobilizacji; pobór do wojska obejmie rezerwistów."),
        ("mobilisation", "Rusia anuncia una nueva movilización parcial",
         "Putin firmó el decreto de movilización de reservistas; miles de hombres huyen de Rusia."),
    ],
)
def test_polish_and_spanish_topic_terms(topic_id: str, title: str, body: str, topics: TopicSet) -> None:
    assert topic_id in topics.tag(title, body), (topic_id, topics.tag(title, body))
