"""Settings: every knob an environment variable, a bad value named by its variable."""

from __future__ import annotations

import pytest

from assistant.settings import SettingsError, load_settings


def test_embedding_cache_texts_comes_from_its_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("FARGO_EMBEDDING_CACHE_TEXTS", "0")
    assert load_settings(data_dir=tmp_path).embedding_cache_texts == 0
    monkeypatch.delenv("FARGO_EMBEDDING_CACHE_TEXTS")
    assert load_settings(data_dir=tmp_path).embedding_cache_texts == 4096


@pytest.mark.parametrize("value", ["lots", "-1"])
def test_a_bad_embedding_cache_size_names_the_variable(monkeypatch, tmp_path, value):
    monkeypatch.setenv("FARGO_EMBEDDING_CACHE_TEXTS", value)
    with pytest.raises(SettingsError, match="FARGO_EMBEDDING_CACHE_TEXTS"):
        load_settings(data_dir=tmp_path)


def test_a_bad_cron_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("FARGO_INGEST_CRON", "0 2 * *")
    with pytest.raises(SettingsError, match="FARGO_INGEST_CRON: .*5 fields"):
        load_settings(data_dir=tmp_path)
