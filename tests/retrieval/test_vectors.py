import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import httpx
import numpy as np
import pytest
from chromadb.errors import ChromaError
from tiny_encoder import TinyEncoder

from assistant.settings import Settings
from retrieval.embeddings import get_embedder
from retrieval.vectors import (
    IndexItem,
    VectorIndexes,
    VectorStoreError,
    open_client,
    runs_to_drop,
    server_address,
)

PRODUCTS = {
    "P-TRAVEL": ("card", "Voyager credit card: earn 3x points on flights and hotels, airport lounge access."),
    "P-CASHBACK": ("card", "Everyday cashback card: 2% cash back on groceries and gas."),
    "P-STUDENT-CARD": ("card", "Student starter credit card with a low limit to build credit history."),
    "P-MORTGAGE": ("mortgage", "30-year fixed-rate mortgage for first-time home buyers."),
    "P-HELOC": ("mortgage", "Home equity line of credit to borrow against the value of your house."),
    "P-SAVINGS": ("deposit", "High-yield savings account with 4.1% APY and no monthly fee."),
    "P-CHECKING": ("deposit", "Checking account with free debit card and mobile deposits."),
    "P-CD": ("deposit", "12-month certificate of deposit with a fixed rate."),
    "P-AUTO": ("loan", "Auto loan for new and used cars with terms up to 72 months."),
    "P-PERSONAL": ("loan", "Unsecured personal loan to consolidate debt."),
    "P-529": ("education_savings", "529 college savings plan for your children's education."),
    "P-IRA": ("retirement", "Roth IRA retirement account with tax-free growth."),
}


def product_items(ids=PRODUCTS) -> list[IndexItem]:
    return [
        IndexItem(id=pid, text=PRODUCTS[pid][1], metadata={"category": PRODUCTS[pid][0], "name": pid})
        for pid in ids
    ]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, chroma_url=None)


@pytest.fixture
def indexes(settings, embedder):
    with VectorIndexes.open(settings, embedder) as opened:
        yield opened


def test_published_index_answers_travel_question_with_travel_card(indexes):
    assert indexes.build("products", "r1", product_items()) == len(PRODUCTS)
    indexes.publish("r1", ["products"])

    hits = indexes.query("products", text="card with travel rewards", k=3)

    assert [hit.id for hit in hits][:1] == ["P-TRAVEL"]
    assert hits[0].text == PRODUCTS["P-TRAVEL"][1]
    assert hits[0].metadata == {"category": "card", "name": "P-TRAVEL"}
    assert 0 < hits[0].score <= 1.0001
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_query_by_embedding_matches_query_by_text(indexes, embedder):
    indexes.build("products", "r1", product_items())
    indexes.publish("r1", ["products"])
    by_text = indexes.query("products", text="save for college", k=2)
    by_vector = indexes.query("products", embedding=embedder.embed_one("save for college"), k=2)
    assert [hit.id for hit in by_text] == [hit.id for hit in by_vector] == ["P-529", by_text[1].id]


def test_where_filter_limits_hits_to_matching_metadata(indexes):
    indexes.build("products", "r1", product_items())
    indexes.publish("r1", ["products"])
    hits = indexes.query("products", text="card with travel rewards", k=5, where={"category": "mortgage"})
    assert {hit.id for hit in hits} == {"P-MORTGAGE", "P-HELOC"}


def test_index_without_live_version_refuses_queries(indexes):
    indexes.build("products", "r1", product_items())
    assert indexes.live_version("products") is None
    with pytest.raises(VectorStoreError, match="no live version"):
        indexes.query("products", text="travel card")


def test_unpublished_build_is_not_served_until_published(indexes):
    indexes.build("products", "r1", product_items(["P-TRAVEL", "P-MORTGAGE"]))
    indexes.publish("r1", ["products"])
    indexes.build("products", "r2", product_items(["P-SAVINGS", "P-CD"]))

    assert indexes.live_version("products") == "r1"
    assert {hit.id for hit in indexes.query("products", text="anything", k=5)} == {"P-TRAVEL", "P-MORTGAGE"}

    indexes.publish("r2", ["products"])
    assert indexes.live_version("products") == "r2"
    assert {hit.id for hit in indexes.query("products", text="anything", k=5)} == {"P-SAVINGS", "P-CD"}


def test_publish_with_a_missing_version_switches_nothing(indexes):
    indexes.build("products", "r1", product_items())
    with pytest.raises(VectorStoreError, match="faq"):
        indexes.publish("r1", ["products", "faq"])
    assert indexes.live_version("products") is None


def test_retried_run_replaces_its_leftover_collection(indexes):
    indexes.build("products", "r1", product_items(["P-TRAVEL", "P-CASHBACK", "P-CD"]))
    assert indexes.build("products", "r1", product_items(["P-SAVINGS"])) == 1


def test_live_version_cannot_be_rebuilt_in_place(indexes):
    indexes.build("products", "r1", product_items(["P-TRAVEL"]))
    indexes.publish("r1", ["products"])
    with pytest.raises(VectorStoreError, match="is live"):
        indexes.build("products", "r1", product_items(["P-CD"]))


def test_cleanup_drops_orphans_of_killed_runs_and_keeps_the_live_version(indexes):
    indexes.build("products", "r1", product_items(["P-TRAVEL"]))
    indexes.publish("r1", ["products"])
    indexes.build("products", "r2", product_items(["P-CD"]))

    assert indexes.cleanup() == ["products__r2"]
    assert indexes.cleanup() == []
    assert [hit.id for hit in indexes.query("products", text="travel", k=1)] == ["P-TRAVEL"]
    with pytest.raises(VectorStoreError, match="no version built"):
        indexes.publish("r2", ["products"])


def test_cleanup_keeps_earlier_versions_for_rollback_when_asked(indexes):
    for run_id in ("r1", "r2", "r3"):
        indexes.build("products", run_id, product_items(["P-TRAVEL"]))
        indexes.publish(run_id, ["products"])
    indexes.build("products", "r4", product_items(["P-CD"]))

    assert indexes.cleanup(keep=2) == ["products__r1", "products__r4"]
    assert indexes.cleanup(keep=1) == ["products__r2"]


def test_runs_to_drop_keeps_the_newest_runs_before_the_live_one():
    created = {"a": 1.0, "b": 2.0, "c": 3.0, "orphan": 4.0}
    assert runs_to_drop(created, "c", keep=1) == ["a", "b", "orphan"]
    assert runs_to_drop(created, "c", keep=3) == ["orphan"]
    with pytest.raises(ValueError):
        runs_to_drop(created, "c", keep=0)


def test_reopened_store_keeps_live_pointer_and_vectors(settings, embedder):
    with VectorIndexes.open(settings, embedder) as first:
        first.build("products", "r1", product_items())
        first.publish("r1", ["products"])
        first.build("faq", "r1", [IndexItem("F1", "How do I reset my PIN?", {"category": "cards"})])

    with VectorIndexes.open(settings, embedder) as reopened:
        assert reopened.live_versions() == {"products": "r1"}
        assert reopened.query("products", text="card with travel rewards", k=1)[0].id == "P-TRAVEL"


def test_vectors_of_gives_the_stored_vectors_of_the_ids_the_live_version_holds(settings):
    vectors = np.eye(3, dtype=np.float32)
    items = [IndexItem(id=f"e{i}", text=f"post {i}", embedding=vectors[i]) for i in range(3)]
    with VectorIndexes.open(settings, embedder=None) as indexes:
        assert indexes.vectors_of("campaign_posts", ["e1"]) == {}  # nothing live yet
        indexes.build("campaign_posts", "r1", items)
        indexes.publish("r1", ["campaign_posts"])
        found = indexes.vectors_of("campaign_posts", ["e2", "e0", "missing", "e2"])
    assert sorted(found) == ["e0", "e2"]
    assert np.array_equal(found["e2"], vectors[2]) and found["e0"].dtype == np.float32


def test_items_with_precomputed_embeddings_are_stored_as_given(settings):
    vectors = np.eye(3, dtype=np.float32)
    items = [IndexItem(id=f"e{i}", text=f"post {i}", embedding=vectors[i]) for i in range(3)]
    with VectorIndexes.open(settings, embedder=None) as no_model:
        no_model.build("campaign_posts", "r1", items)
        no_model.publish("r1", ["campaign_posts"])
        hit = no_model.query("campaign_posts", embedding=[0.0, 1.0, 0.0], k=1)[0]
    assert (hit.id, round(hit.score, 4)) == ("e1", 1.0)


def test_metadata_must_be_flat(indexes):
    nested = IndexItem("P1", "card", {"terms": {"apr": 0.2}})
    with pytest.raises(ValueError, match="terms"):
        indexes.build("products", "r1", [nested])


def test_missing_metadata_values_are_left_out(indexes):
    indexes.build("products", "r1", [IndexItem("P1", "travel card", {"category": "card", "segment": None})])
    indexes.publish("r1", ["products"])
    assert indexes.query("products", text="travel", k=1)[0].metadata == {"category": "card"}


def test_chroma_failures_surface_as_vector_store_errors(indexes):
    indexes.build("products", "r1", product_items(["P-TRAVEL"]))
    indexes.publish("r1", ["products"])
    with pytest.raises(VectorStoreError, match="products__r1"):
        indexes.query("products", embedding=[1.0, 0.0], k=1)


def test_collections_use_cosine_space_and_never_chroma_default_embedder(settings, embedder):
    client = open_client(settings)
    VectorIndexes(client, embedder).build("products", "r1", product_items(["P-TRAVEL"]))
    configuration = client.get_collection("products__r1", embedding_function=None).configuration_json
    client.close()
    assert configuration["hnsw"]["space"] == "cosine"
    assert configuration["embedding_function"]["type"] != "known"  # "known" would name a Chroma embedder


def test_unknown_index_names_are_rejected(indexes):
    with pytest.raises(ValueError, match="unknown vector index"):
        indexes.build("product", "r1", product_items())


def test_server_address_reads_host_port_and_tls():
    assert server_address("https://chroma.bank.internal:8443") == ("chroma.bank.internal", 8443, True)
    assert server_address("http://10.0.0.5") == ("10.0.0.5", 8000, False)
    assert server_address("https://chroma.bank.internal/") == ("chroma.bank.internal", 443, True)
    with pytest.raises(VectorStoreError, match="path"):
        server_address("http://chroma:8000/api/v2")


def test_unreachable_server_is_a_vector_store_error(tmp_path, embedder):
    with pytest.raises(VectorStoreError, match="cannot reach Chroma"):
        VectorIndexes.open(Settings(data_dir=tmp_path, chroma_url=f"http://127.0.0.1:{_free_port()}"), embedder)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _chroma_command() -> str | None:
    beside_python = Path(sys.executable).with_name("chroma")
    return str(beside_python) if beside_python.exists() else shutil.which("chroma")


@pytest.fixture
def chroma_server(tmp_path):
    command = _chroma_command()
    if command is None:
        pytest.skip("the chroma console script is not installed")
    port = _free_port()
    log = (tmp_path / "chroma.log").open("w")
    server = subprocess.Popen(
        [command, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, timeout=20)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"chroma server exited with code {server.returncode}")
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"chroma server did not answer within {timeout} s")


def test_chroma_server_serves_the_same_build_publish_query(chroma_server, tmp_path, embedder):
    settings = Settings(data_dir=tmp_path, chroma_url=chroma_server)
    with VectorIndexes.open(settings, embedder) as remote:
        remote.build("products", "r1", product_items())
        remote.publish("r1", ["products"])
        remote.build("products", "r2", product_items(["P-CD"]))
        assert remote.query("products", text="card with travel rewards", k=1)[0].id == "P-TRAVEL"
        assert remote.cleanup() == ["products__r2"]
    assert not (tmp_path / "chroma").exists()  # nothing went to the embedded store


def test_build_reports_progress_per_batch(indexes):
    reports = []
    indexes.build("products", "r1", product_items(), batch_size=5, progress=lambda *report: reports.append(report))
    assert reports == [(5, 12), (10, 12), (12, 12)]


def test_every_batch_lands_and_a_failed_write_stops_the_build(indexes, monkeypatch):
    assert indexes.build("products", "r1", product_items(), batch_size=2) == len(PRODUCTS)
    writes = []

    def failing_add(self, **batch):
        writes.append(batch["ids"])
        raise ChromaError("disk full")

    monkeypatch.setattr(chromadb.api.models.Collection.Collection, "add", failing_add)
    with pytest.raises(VectorStoreError, match="cannot write to products__r2"):
        indexes.build("products", "r2", product_items(), batch_size=2)
    assert len(writes) == 1  # the build stopped at the first failed write


def test_indexes_another_encoder_built_are_named_and_never_queried_with_this_ones_vectors(settings, indexes):
    indexes.build("products", "r1", product_items())
    indexes.publish("r1", ["products"])
    with VectorIndexes.open(settings, TinyEncoder()) as other:
        assert other.other_encoder_indexes() == {"products": "all-MiniLM-L6-v2"}
        for read in (lambda: other.query("products", text="travel card"), lambda: other.vectors("products"),
                     lambda: other.vectors_of("products", ["P-TRAVEL"])):
            with pytest.raises(VectorStoreError, match=r"all-MiniLM-L6-v2 vectors .* tiny-hashing-encoder: run "
                                                       r"`fargo ingest`"):
                read()
    assert indexes.other_encoder_indexes() == {}
    assert indexes.query("products", text="card with travel rewards", k=1)[0].id == "P-TRAVEL"


class CountingEmbedder:
    """The real encoder, counting the texts it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.texts = inner, []
        self.model_name = inner.model_name

    def embed(self, texts):
        self.texts += list(texts)
        return self.inner.embed(texts)

    def embed_one(self, text):
        return self.inner.embed_one(text)


def test_a_rebuild_embeds_only_new_or_changed_texts_and_a_repeated_text_once(settings, embedder):
    counting = CountingEmbedder(embedder)
    with VectorIndexes.open(settings, counting) as indexes:
        indexes.build("products", "r1", product_items())
        indexes.publish("r1", ["products"])
        first = indexes.vectors_of("products", list(PRODUCTS))
        assert len(counting.texts) == len(PRODUCTS)

        counting.texts.clear()
        changed = IndexItem(id="P-CD", text="18-month certificate of deposit with a fixed rate.",
                            metadata={"category": "deposit", "name": "P-CD"})
        repeats = [IndexItem(id=f"P-NEW{n}", text="Same post shared again.", metadata={}) for n in range(3)]
        items = [item for item in product_items() if item.id != "P-CD"] + [changed, *repeats]
        assert indexes.build("products", "r2", items) == len(PRODUCTS) + 3
        indexes.publish("r2", ["products"])

        assert sorted(counting.texts) == sorted([changed.text, "Same post shared again."])
        second = indexes.vectors_of("products", [*PRODUCTS, "P-NEW0", "P-NEW2"])
        assert all(np.allclose(second[pid], first[pid]) for pid in PRODUCTS if pid != "P-CD")
        assert not np.allclose(second["P-CD"], first["P-CD"])
        assert np.allclose(second["P-NEW0"], second["P-NEW2"])
        hits = indexes.query("products", text="certificate of deposit for 18 months", k=1)
        assert hits[0].id == "P-CD" and hits[0].text == changed.text


def test_vectors_of_another_encoder_are_never_kept(settings, embedder):
    with VectorIndexes.open(settings, embedder) as indexes:
        indexes.build("products", "r1", product_items())
        indexes.publish("r1", ["products"])
    tiny = TinyEncoder()
    with VectorIndexes.open(settings, tiny) as indexes:
        indexes.build("products", "r2", product_items())
    assert tiny.embedded == len(PRODUCTS)
