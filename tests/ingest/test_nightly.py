"""The nightly (incremental) run: it reads only changed lines, recomputes only changed customers, and publishes
without a moment where serving finds a customer without features."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from memory_store import memory_store
from tiny_encoder import TinyEncoder

from assistant.settings import Settings
from assistant.worker import run_ingest_now
from ingest.jobs import IngestJob
from ingest.loaded_lines import LoadedLines
from ingest.loader import load_directory
from ingest.synth import synthesize
from retrieval.docstore import (
    feature_runs,
    live_feature_batches,
    live_feature_documents,
    live_pointer,
    open_store,
)
from assistant.callers import Caller
from assistant.dsr import erase_customer
from retrieval.neighbourhoods import PEOPLE, graph_layers, graph_names, load_stats, read_people
from tools.context import ToolContext
from tools.family import recommend_family

CUSTOMERS = 30
RUN_FIELDS = ("_id", "run_id")


def rewrite_jsonl(path: Path, change) -> list[dict]:
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    change(rows)
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return rows


def append_line(path: Path, line: str) -> int:
    """Append one line; returns its line number."""
    text = path.read_text()
    path.write_text(text + line + "\n")
    return text.count("\n") + 1


def live_features(store, run_id: str | None = None) -> dict[str, dict]:
    run_id = run_id or live_pointer(store)["run_id"]
    return live_feature_documents(store, feature_runs(store, run_id), None)


def without_run(document: dict) -> dict:
    return {key: value for key, value in document.items() if key not in RUN_FIELDS}


@pytest.fixture(scope="module", autouse=True)
def tiny_encoder():
    """Ingestion embeds the catalogue with an encoder that loads at once; what is embedded is not under test."""
    encoder = TinyEncoder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("retrieval.embeddings.get_embedder", lambda *args: encoder)
        yield encoder


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, tiny_encoder) -> Path:
    """A small bank after its first full run, copied for each test."""
    root = tmp_path_factory.mktemp("ingested")
    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    synthesize(settings.source_dir, customers=CUSTOMERS, seed=5)
    run_ingest_now(settings, mode="full")
    return root


@pytest.fixture()
def bank(ingested: Path, tmp_path: Path) -> Settings:
    shutil.copytree(ingested, tmp_path / "bank")
    return Settings(data_dir=tmp_path / "bank" / "data", source_dir=tmp_path / "bank" / "source")


def change_three_customers(source: Path) -> tuple[str, str, str]:
    """Two customers move city; a third gets a new grocery transaction. Returns their ids."""
    moved = rewrite_jsonl(source / "customers.jsonl", lambda rows: [row.update(city="Anchorage") for row in rows[3:5]])
    account = orjson.loads((source / "accounts.jsonl").read_bytes().splitlines()[10])
    latest = max(line.split(",")[3] for line in (source / "transactions.csv").read_text().splitlines()[1:])
    append_line(source / "transactions.csv", f"T9999999999,{account['customer_id']},{account['account_id']},"
                f"{latest},-123.45,Corner Grocer,groceries,5411,card_present")
    return moved[3]["customer_id"], moved[4]["customer_id"], account["customer_id"]


def test_a_nightly_run_recomputes_exactly_the_changed_customers_as_a_full_run_would(bank: Settings):
    with open_store(bank) as store:
        before = live_features(store)
    changed = set(change_three_customers(bank.source_dir))

    run = run_ingest_now(bank, mode="incremental")

    assert run.stages["load"].count == 3  # only the three changed lines were read
    assert run.stages["features"].count == len(changed)
    with open_store(bank) as store:
        after = live_features(store)
        assert set(after) == set(before)
        assert {cid for cid in after if after[cid]["run_id"] == run.run_id} == changed
        for cid in set(after) - changed:
            assert after[cid] == before[cid]  # the full run's document, untouched
        # serving's models read the same documents a few at a time
        batches = list(live_feature_batches(store, feature_runs(store, run.run_id), batch_size=4))
        assert max(map(len, batches)) <= 4
        assert {doc["customer_id"]: doc for batch in batches for doc in batch} == after
        assert sum(map(len, batches)) == len(after)
        full = IngestJob(store, None, bank.data_dir / "graph")
        full.build_features("recomputed")  # every customer, from the same loaded records
        recomputed = live_features(store, "recomputed")
    assert {cid: without_run(doc) for cid, doc in after.items()} == {
        cid: without_run(doc) for cid, doc in recomputed.items()}
    assert {after[cid]["city"] for cid in changed} >= {"Anchorage"}


def test_serving_finds_every_customers_features_before_during_and_after_publishing(bank: Settings):
    with open_store(bank) as store:
        first = live_pointer(store)["run_id"]
        customers = [doc["_id"] for doc in store["customers"].find({}, {"_id": 1})]

    def complete(run_id: str) -> bool:
        with open_store(bank) as store:
            return set(live_feature_documents(store, feature_runs(store, run_id), customers)) == set(customers)

    seen_while_running: list[bool] = []

    def check_live_run(stage: str, done: int) -> None:  # called while the run writes its features
        seen_while_running.append(complete(first))

    change_three_customers(bank.source_dir)
    second = run_ingest_now(bank, mode="incremental", fault=check_live_run).run_id
    assert seen_while_running and all(seen_while_running)
    assert complete(first) and complete(second)  # a process that has not switched yet still reads `first`

    rewrite_jsonl(bank.source_dir / "customers.jsonl", lambda rows: rows[7].update(city="Juneau"))
    third = run_ingest_now(bank, mode="incremental").run_id
    assert complete(second) and complete(third)
    with open_store(bank) as store:
        assert store["features"].count_documents({"run_id": second}) == 3  # kept: the previous run
        assert store["features"].count_documents({"run_id": third}) == 4  # its change and the second run's
        rewrite_jsonl(bank.source_dir / "customers.jsonl", lambda rows: rows[8].update(city="Sitka"))
    fourth = run_ingest_now(bank, mode="incremental").run_id
    with open_store(bank) as store:
        assert store["features"].count_documents({"run_id": second}) == 0  # no process serves it any more
        assert complete(fourth) and feature_runs(store, fourth) == (fourth, first)


def test_a_nightly_run_keeps_the_graph_unless_what_it_holds_changed(bank: Settings):
    with open_store(bank) as store:
        graph_file = live_pointer(store)["graph_file"]
    rewrite_jsonl(bank.source_dir / "customers.jsonl", lambda rows: rows[2].update(city="Nome"))

    kept = run_ingest_now(bank, mode="incremental")

    with open_store(bank) as store:
        assert live_pointer(store)["graph_file"] == graph_file
    assert kept.stages["graph"].count == 0
    with open_store(bank) as store:
        assert graph_file in graph_names(store)

    rewrite_jsonl(bank.source_dir / "relationships.jsonl", lambda rows: rows[0].update(consent_to_share=not rows[0]["consent_to_share"]))
    rebuilt = run_ingest_now(bank, mode="incremental")

    with open_store(bank) as store:
        assert live_pointer(store)["graph_file"] == f"graph-{rebuilt.run_id}"
        assert graph_names(store) == sorted([graph_file, f"graph-{rebuilt.run_id}"])  # the previous one kept
    assert rebuilt.stages["graph"].count > 0


def open_account(source: Path, customer_id: str, product_id: str, number: int) -> None:
    append_line(source / "accounts.jsonl", orjson.dumps(
        {"account_id": f"A9999999{number}", "customer_id": customer_id, "product_id": product_id,
         "opened_at": "2024-01-02", "balance": 100.0, "credit_limit": None, "status": "open"}).decode())


def change_holdings_and_add_a_spouse(store, source: Path) -> tuple[set[str], str, str]:
    """Two customers who share with a customer naming them open an account for a product they did not hold, and a customer with
    no spouse in the graph names one, who does not bank here, and a sibling who does (and does not name them back).
    Returns the two, the customer who married and the sibling."""
    relationships = list(store["relationships"].find({}))
    products = sorted(row["_id"] for row in store["products"].find({}, {"_id": 1}))
    named = sorted({row["relative_id"] for row in relationships
                    if row["relative_is_customer"] and row["consent_to_share"]})[:2]  # who names them sees it
    for number, customer_id in enumerate(named):
        held = {row["product_id"] for row in store["accounts"].find({"customer_id": customer_id})}
        open_account(source, customer_id, next(product for product in products if product not in held), number)
    married = {row["customer_id"] for row in relationships if row["relation"] == "spouse"}
    customer = min({row["_id"] for row in store["customers"].find({}, {"_id": 1})} - married - set(named))
    append_line(source / "relationships.jsonl", orjson.dumps(
        {"relationship_id": "L99999999", "customer_id": customer, "relative_id": "R9999999", "relation": "spouse",
         "relative_is_customer": False, "relative_name": "Nia", "relative_date_of_birth": "1986-03-01",
         "consent_to_share": False}).decode())
    sibling = max({row["_id"] for row in store["customers"].find({}, {"_id": 1})} - set(named) - {customer})
    append_line(source / "relationships.jsonl", orjson.dumps(
        {"relationship_id": "L99999998", "customer_id": customer, "relative_id": sibling, "relation": "sibling",
         "relative_is_customer": True, "relative_name": "Sam", "relative_date_of_birth": None,
         "consent_to_share": True}).decode())
    return set(named), customer, sibling


def graph_as_served(store, name: str) -> tuple[dict[str, dict], object]:
    """Every person's document as a reader of the graph `name` finds it (without its key), and its statistics."""
    people = {document["person_id"] for document in store[PEOPLE].find({}, {"person_id": 1})}
    found = read_people(store, graph_layers(store, name), people)
    return ({person_id: {key: value for key, value in document.items() if key not in ("_id", "graph")}
             for person_id, document in found.items()}, load_stats(store, name))


def rebuilt_graph(store, bank: Settings, run_id: str) -> tuple[dict[str, dict], object]:
    """The graph a full rebuild makes of the same records and the run's features."""
    run = store["job_runs"].find_one({"_id": run_id})
    IngestJob(store, None, bank.data_dir / "graph").build_graph(run_id, run["features_base"], "graph-rebuilt")
    return graph_as_served(store, "graph-rebuilt")


def test_a_nightly_run_that_changes_holdings_and_relationships_updates_the_graph_as_a_rebuild_would(bank: Settings):
    with open_store(bank) as store:
        before = live_pointer(store)["graph_file"]
        people = store[PEOPLE].count_documents({"graph": before})
        served_before = graph_as_served(store, before)
        changed, married, sibling = change_holdings_and_add_a_spouse(store, bank.source_dir)
        assert not recommend_family(ToolContext.open(store, None, None), married, ["spouse"])  # no spouse yet
        related = {record[side] for record in store["relationships"].find({}) for side in ("customer_id", "relative_id")}
        loner = min({row["_id"] for row in store["customers"].find({}, {"_id": 1})} - related - {married, sibling})
    rewrite_jsonl(bank.source_dir / "customers.jsonl",
                  lambda rows: [row.update(city="Nome") for row in rows if row["customer_id"] == loner])

    run = run_ingest_now(bank, mode="incremental")

    with open_store(bank) as store:
        live = live_pointer(store)["graph_file"]
        assert live == f"graph-{run.run_id}" and graph_layers(store, live) == (live, before)  # updated, not rebuilt
        assert 0 < store[PEOPLE].count_documents({"graph": live}) == run.stages["graph"].count < people
        assert store[PEOPLE].find_one({"_id": f"{live}:{loner}"}) is None  # moved city: nothing the graph holds
        updated = graph_as_served(store, live)
        assert updated == rebuilt_graph(store, bank, run.run_id)
        for customer_id in changed:  # what they hold now, as a rebuild would show it
            assert updated[0][customer_id]["products"] != served_before[0][customer_id]["products"]
        recommendations = recommend_family(ToolContext.open(store, None, None), married, ["spouse"])
    assert recommendations and {rec.for_person for rec in recommendations} == {"R9999999"}

    rewrite_jsonl(bank.source_dir / "customers.jsonl", lambda rows: rows[6].update(date_of_birth="1950-01-01"))
    open_account(bank.source_dir, sibling, "P001" if "P001" not in updated[0][sibling]["products"] else "P002", 2)
    second = run_ingest_now(bank, mode="incremental")  # an update of the update: over the same full graph
    with open_store(bank) as store:
        live = live_pointer(store)["graph_file"]
        assert graph_layers(store, live) == (live, before)
        served = graph_as_served(store, live)
        assert served == rebuilt_graph(store, bank, second.run_id)
        sees = {entry["relative_id"]: entry["products"] for entry in served[0][married]["relatives"]}
        assert sees[sibling] == served[0][sibling]["products"] != updated[0][sibling]["products"]


def test_erasing_a_customer_after_an_update_removes_them_from_every_graph(bank: Settings):
    with open_store(bank) as store:
        changed, married, _ = change_holdings_and_add_a_spouse(store, bank.source_dir)
    run = run_ingest_now(bank, mode="incremental")
    with open_store(bank) as store:
        live = live_pointer(store)["graph_file"]
        kept = graph_names(store)
        assert len(kept) == 2  # the update and the full graph it updates
        erased = married  # named a spouse no one else did: the spouse goes too

        erase_customer(store, _NoVectors(), b"k" * 32, Caller("admin", key_id="test"), erased)

        for document in store[PEOPLE].find({}):
            assert erased not in orjson.dumps(document).decode() and "R9999999" not in orjson.dumps(document).decode()
        assert graph_as_served(store, live) == rebuilt_graph(store, bank, run.run_id)
        assert graph_names(store) == sorted([*kept, "graph-rebuilt"])


class _NoVectors:
    def forget(self, index: str, ids: list[str]) -> bool:
        return False


def test_a_new_bad_row_is_reported_by_file_line_field_and_reason_and_again_the_next_night(tmp_path: Path):
    source = tmp_path / "source"
    synthesize(source, customers=8, seed=2)
    store = memory_store()
    load_directory(store, source, loaded_lines=LoadedLines(store, tmp_path / "loaded", use_previous=False))
    line = append_line(source / "accounts.jsonl", orjson.dumps(
        {"account_id": "A99", "customer_id": "C0000001", "product_id": "P404", "opened_at": "2024-01-02",
         "balance": 1.0, "status": "open"}).decode())

    for _night in range(2):
        summary = load_directory(store, source, loaded_lines=LoadedLines(store, tmp_path / "loaded"))
        assert [str(rejection) for rejection in summary.rejections] == [
            f"accounts.jsonl:{line}: product_id: unknown product id 'P404'"]
        assert summary.total("loaded") + summary.total("updated") + summary.total("unchanged") == 0


def test_lines_kept_for_another_store_are_not_trusted(tmp_path: Path):
    source = tmp_path / "source"
    synthesize(source, customers=8, seed=2)
    first = memory_store()
    load_directory(first, source, loaded_lines=LoadedLines(first, tmp_path / "loaded", use_previous=False))
    other = memory_store()

    summary = load_directory(other, source, loaded_lines=LoadedLines(other, tmp_path / "loaded"))

    assert summary.files["customers.jsonl"].loaded == 8
    assert other["customers"].count_documents({}) == 8


def test_only_new_csv_lines_are_read_unless_one_is_part_of_a_quoted_line_break(tmp_path: Path):
    store = memory_store()
    path = tmp_path / "notes.csv"
    path.write_text('id,text\n1,"two\nlines"\n2,plain\n')
    first = LoadedLines(store, tmp_path / "loaded", use_previous=False)
    first.save({path.name: first.read(path).kept([])})

    path.write_text('id,text\n1,"two\nlines"\n2,plain\n3,new\n')
    assert LoadedLines(store, tmp_path / "loaded").read(path).new == [(5, b"3,new")]
    path.write_text('id,text\n1,"two\nlines changed"\n2,plain\n')
    assert LoadedLines(store, tmp_path / "loaded").read(path).new is None  # the whole file is read
