"""The unpacked language model kept in the user's cache (indexing/extraction/modelcache.py)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from indexing.extraction import modelcache

TEXTS = ["Die Bundesregierung hat am Montag neue Maßnahmen beschlossen, um die Energiepreise zu senken.",
         "Сили оборони відбили атаку на Покровськ, повідомили в Генштабі у понеділок ввечері.",
         "Le gouvernement a annoncé lundi de nouvelles mesures pour faire baisser les prix de l'énergie."]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("WARWATCH_MODEL_CACHE", str(directory))
    return directory


def test_the_cached_identifier_ranks_as_the_shipped_model(cache: Path) -> None:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    calls: list[int] = []

    def load() -> object:
        calls.append(1)
        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    first = modelcache.cached_model("py3langid", load)
    again = modelcache.cached_model("py3langid", load)
    assert calls == [1]  # the second came from the cache
    assert (cache.stat().st_mode & 0o777) == 0o700 and len(list(cache.glob("py3langid-*.pickle"))) == 1
    fresh = load()
    for text in TEXTS:
        assert again.rank(text)[:3] == first.rank(text)[:3] == fresh.rank(text)[:3]  # type: ignore[attr-defined]


def test_a_damaged_copy_is_replaced_and_a_shared_directory_is_not_used(cache: Path) -> None:
    assert modelcache.cached_model("py3langid", lambda: {"model": 1}) == {"model": 1}
    (copy,) = cache.glob("py3langid-*.pickle")
    copy.write_bytes(b"not a pickle")
    assert modelcache.cached_model("py3langid", lambda: {"model": 2}) == {"model": 2}
    assert pickle.loads(copy.read_bytes()) == {"model": 2}
    os.chmod(cache, 0o777)  # anyone could put a pickle there: never read, never written
    copy.write_bytes(pickle.dumps({"model": "planted"}))
    assert modelcache.cached_model("py3langid", lambda: {"model": 3}) == {"model": 3}
    assert pickle.loads(copy.read_bytes()) == {"model": "planted"}
