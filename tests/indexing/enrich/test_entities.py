from __future__ import annotations

from pathlib import Path

import pytest

from indexing.enrich import Gazetteer, load_gazetteer
from indexing.enrich._config import EnrichConfigError
from indexing.errors import ConfigError


def ids(gz: Gazetteer, text: str) -> list[str]:
    return [m.id for m in gz.find(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Präsident Selenskyj sagte",
        "Selenskyjs Rede in Kiew",  # German genitive
        "President Zelenskyy said",
        "Zelensky's office",
        "Le président Volodymyr Zelensky",
        "Володимир Зеленський заявив",
        "зустріч із Зеленським",  # uk instrumental
        "Зеленського",  # uk genitive
        "встреча с Зеленским",  # ru instrumental
        "Зеленскому",  # ru dative
    ],
)
def test_zelensky_in_all_scripts_and_cases(gazetteer: Gazetteer, text: str) -> None:
    assert "volodymyr-zelensky" in ids(gazetteer, text)


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("Truppen aus Nordkorea", "north-korea"),
        ("Nordkoreas Beteiligung", "north-korea"),
        ("la Corée du Nord a envoyé", "north-korea"),
        ("з Північної Кореї", "north-korea"),
        ("Північну Корею", "north-korea"),
        ("из Северной Кореи", "north-korea"),
        ("в КНДР", "north-korea"),
        ("в Курской области", "kursk"),
        ("на Курщині", "kursk"),
        ("у Києві", "kyiv"),
        ("в Киеве", "kyiv"),
        ("Путіна", "vladimir-putin"),
        ("Путину", "vladimir-putin"),
        ("Wladimir Putins Krieg", "vladimir-putin"),
        ("Єрмака", "andriy-yermak"),
        ("Ермаком", "andriy-yermak"),
        ("Jermak sagte", "andriy-yermak"),
        ("в Москве", "moscow"),
        ("Кремля", "kremlin"),
        ("des Kremls", "kremlin"),
        ("l'OTAN", "nato"),
        ("Nato-Gipfel", "nato"),
        ("у НАТО", "nato"),
        ("у Росії", "russia"),
        ("России", "russia"),
        ("Russlands Krieg", "russia"),
    ],
)
def test_inflections_de_ru_uk(gazetteer: Gazetteer, text: str, entity: str) -> None:
    assert entity in ids(gazetteer, text)


def test_acronyms_are_case_sensitive(gazetteer: Gazetteer) -> None:
    assert "united-nations" in ids(gazetteer, "Die UN verurteilten den Angriff")
    assert "united-nations" not in ids(gazetteer, "un homme a été tué")  # French article "un"
    assert "european-union" not in ids(gazetteer, "Hier ist eu nichts")


def test_longest_match_wins(gazetteer: Gazetteer) -> None:
    found = gazetteer.find("Die IAEA warnte vor Beschuss des AKW Saporischschja.")
    assert [m.id for m in found] == ["iaea", "zaporizhzhia-npp"]
    found = gazetteer.find("Kämpfe in Saporischschja")
    assert [m.id for m in found] == ["zaporizhzhia"]


def test_match_fields(gazetteer: Gazetteer) -> None:
    (m,) = gazetteer.find("In Seoul demonstrierten Veteranen.")
    assert (m.id, m.name, m.type, m.surface) == ("seoul", "Seoul", "place", "Seoul")
    assert m.lat == pytest.approx(37.5665) and m.lon == pytest.approx(126.978)
    (p,) = gazetteer.find("Selenskyjs Plan")
    assert p.surface == "Selenskyjs" and p.lat is None and p.name == "Volodymyr Zelensky"


def test_every_place_has_coordinates_and_core_labels(gazetteer: Gazetteer) -> None:
    assert len(gazetteer) >= 100
    for ent in gazetteer.entities.values():
        if ent.type == "place":
            assert ent.lat is not None and ent.lon is not None, ent.id
        missing = {"de", "fr", "uk", "ru"} - set(ent.labels)
        assert not missing, (ent.id, missing)


def test_no_false_positives_on_plain_words(gazetteer: Gazetteer) -> None:
    text = (
        "Der Bäcker verkauft frisches Brot. Le marché ouvre à huit heures. "
        "Погода сегодня хорошая, идет дождь. Сьогодні гарна погода. The weather is fine today."
    )
    assert gazetteer.find(text) == []


def test_bad_yaml_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "entities.yaml"
    bad.write_text("entities:\n  - id: kyiv\n    type: place\n    name: Kyiv\n    lat: 50.4\n    lon: 30.5\n    alias: [Kiew]\n")
    with pytest.raises(ConfigError) as exc:
        load_gazetteer(bad)
    assert str(bad) in str(exc.value) and "'alias'" in str(exc.value) and "kyiv" in str(exc.value)

    bad.write_text("entities:\n  - id: x\n    type: place\n    name: X\n")
    with pytest.raises(EnrichConfigError, match="lat"):
        load_gazetteer(bad)

    bad.write_text("entities: [\n")
    with pytest.raises(EnrichConfigError, match="not valid YAML"):
        load_gazetteer(bad)
