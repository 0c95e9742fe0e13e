"""The real Berka PKDD'99 bank goes through import and ingestion with its counts intact."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.settings import Settings
from retrieval.docstore import live_pointer, open_store

BERKA = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "berka_pkdd99"


@pytest.mark.skipif(not BERKA.is_dir(), reason="the shared Berka folder is not beside this checkout")
def test_import_berka_then_ingest_keeps_the_source_counts(tmp_path: Path, monkeypatch):
    out = tmp_path / "berka-bank"
    monkeypatch.setenv("FARGO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FARGO_SOURCE_DIR", str(out))
    runner = CliRunner()

    imported = runner.invoke(app, ["data", "import-berka", str(BERKA), "--out", str(out), "--no-load"])
    assert imported.exit_code == 0, imported.output
    assert "not mapped:" in imported.output and "trans" in imported.output

    ingested = runner.invoke(app, ["ingest", "--full"])
    assert ingested.exit_code == 0, ingested.output
    assert "succeeded" in ingested.output

    with open_store(Settings(data_dir=tmp_path / "data")) as store:
        run_id = live_pointer(store)["run_id"]
        assert store["customers"].count_documents({}) == 5369
        assert store["features"].count_documents({"run_id": run_id}) == 5369
        accounts = store["accounts"]
        assert accounts.count_documents({"product_id": "BERKA-CURRENT"}) == 4500
        assert accounts.count_documents({"product_id": {"$in": ["BERKA-CARD-JUNIOR", "BERKA-CARD-CLASSIC", "BERKA-CARD-GOLD"]}}) == 892
        assert accounts.count_documents({"product_id": "BERKA-LOAN"}) == 682
