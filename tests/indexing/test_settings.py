from pathlib import Path

import pytest

from indexing.errors import ConfigError
from indexing.settings import get_settings, reset_settings


def test_defaults_and_derived_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WARWATCH_ES_URL", "WARWATCH_INDEX_PREFIX", "WARWATCH_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    s = get_settings()
    assert s.es_url == "http://127.0.0.1:9200"
    assert s.index_prefix == "warwatch-"
    assert s.articles_alias == "warwatch-articles"
    assert s.warc_dir == s.data_dir / "warc"


def test_environment_beats_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("index_prefix: fromyaml-\ncrawl:\n  download_delay: 3\n")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(cfg))
    monkeypatch.delenv("WARWATCH_INDEX_PREFIX", raising=False)  # the test session's
    reset_settings()
    assert get_settings().index_prefix == "fromyaml-"
    assert get_settings().crawl.download_delay == 3
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", "fromenv-")
    monkeypatch.setenv("WARWATCH_CRAWL__DOWNLOAD_DELAY", "0.5")
    reset_settings()
    assert get_settings().index_prefix == "fromenv-"
    assert get_settings().crawl.download_delay == 0.5


def test_unknown_key_in_yaml_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("es_ulr: http://x\n")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(cfg))
    reset_settings()
    with pytest.raises(ConfigError) as err:
        get_settings()
    assert "es_ulr" in str(err.value) and str(cfg) in str(err.value)


def test_secrets_refused_in_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("es_password: hunter2\n")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(cfg))
    reset_settings()
    with pytest.raises(ConfigError, match="environment"):
        get_settings()


def test_bad_prefix_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_INDEX_PREFIX", "Bad Prefix")
    reset_settings()
    with pytest.raises(ConfigError, match="index_prefix"):
        get_settings()


def test_secret_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARWATCH_ES_PASSWORD", "s3cret-value")
    reset_settings()
    s = get_settings()
    assert s.es_password is not None and s.es_password.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(s)


def test_state_backend_defaults_to_files_and_takes_the_dsn_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WARWATCH_STATE__BACKEND", raising=False)
    monkeypatch.delenv("WARWATCH_STATE__DSN", raising=False)
    reset_settings()
    assert get_settings().state.backend == "file" and get_settings().state.postgres_dsn is None
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("state:\n  backend: postgres\n")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(cfg))
    monkeypatch.setenv("WARWATCH_STATE__DSN", "postgresql://ww:s3cret-pw@db.internal:5432/ww")
    reset_settings()
    state = get_settings().state
    assert state.backend == "postgres" and state.postgres_dsn == "postgresql://ww:s3cret-pw@db.internal:5432/ww"
    assert "s3cret-pw" not in repr(get_settings())


def test_state_dsn_refused_in_files_and_required_by_postgres(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.delenv("WARWATCH_STATE__DSN", raising=False)
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("crawl:\n  download_delay: 1\nstate:\n  backend: postgres\n  dsn: postgresql://ww:pw@db/ww\n")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(cfg))
    reset_settings()
    with pytest.raises(ConfigError, match=r"settings.yaml:5: 'state.dsn' must come from the environment"):
        get_settings()
    cfg.write_text("state:\n  backend: postgres\n")
    reset_settings()
    with pytest.raises(ConfigError, match="WARWATCH_STATE__DSN"):
        get_settings()
    monkeypatch.setenv("WARWATCH_STATE__BACKEND", "sqlite")
    reset_settings()
    with pytest.raises(ConfigError, match="backend"):
        get_settings()


def test_storage_secrets_refused_in_files_and_s3_needs_a_bucket(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("storage:\n  backend: s3\n  bucket: captures\n  secret_access_key: hunter2\n")
    monkeypatch.setenv("WARWATCH_SETTINGS_FILE", str(cfg))
    reset_settings()
    with pytest.raises(ConfigError, match=r"settings.yaml:4: 'storage.secret_access_key' must come from the environment"):
        get_settings()
    cfg.write_text("storage:\n  backend: s3\n")
    reset_settings()
    with pytest.raises(ConfigError, match="bucket"):
        get_settings()
    cfg.write_text("storage:\n  backend: s3\n  bucket: captures\n  prefix: warwatch/\n")
    monkeypatch.setenv("WARWATCH_STORAGE__ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("WARWATCH_STORAGE__SECRET_ACCESS_KEY", "s3cret-value")
    reset_settings()
    storage = get_settings().storage
    assert (storage.backend, storage.bucket, storage.prefix) == ("s3", "captures", "warwatch/")
    assert storage.secret_access_key is not None and storage.secret_access_key.get_secret_value() == "s3cret-value"
    assert "s3cret-value" not in repr(get_settings())


def test_storage_defaults_to_the_local_data_dir() -> None:
    from indexing.settings import Settings

    assert Settings().storage.backend == "local"
