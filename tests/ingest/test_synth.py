"""The synthetic bank: valid, consistent, deterministic files with hidden needs kept apart."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest

from ingest.synth import DEFAULT_AS_OF, synthesize
from ingest.synth import bank as synth_bank
from ingest.synth.catalogue import faq_documents, healthcare_services, products
from ingest.synth.people import add_years
from retrieval.records import (
    GROUND_TRUTH_DIR,
    SOURCES,
    TRANSACTION_COLUMNS,
    ProductCategory,
)

CUSTOMERS = 300
INVERSE = {"spouse": "spouse", "parent": "child", "child": "parent", "sibling": "sibling"}


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-customer bank, made in several chunks so chunk boundaries are exercised."""
    out = tmp_path_factory.mktemp("bank")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synth_bank, "CHUNK_CUSTOMERS", 128)
        synthesize(out, customers=CUSTOMERS, seed=11)
    return out


def jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def transactions(bank: Path) -> list[dict]:
    with (bank / "transactions.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path):
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    synthesize(first, customers=60, seed=5)
    synthesize(second, customers=60, seed=5)
    synthesize(other, customers=60, seed=6)

    written = sorted(path.relative_to(first) for path in first.rglob("*") if path.is_file())
    assert written == sorted(path.relative_to(second) for path in second.rglob("*") if path.is_file())
    for name in written:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "customers.jsonl").read_bytes() != (other / "customers.jsonl").read_bytes()
    assert (first / "transactions.csv").read_bytes() != (other / "transactions.csv").read_bytes()
    assert (first / "products.jsonl").read_bytes() == (other / "products.jsonl").read_bytes()


def test_every_record_validates_and_carries_exactly_its_model_fields(bank: Path):
    for source in SOURCES:
        path = bank / source.file_name
        if path.suffix == ".csv":
            with path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                assert tuple(reader.fieldnames) == TRANSACTION_COLUMNS
                rows = [{k: v for k, v in row.items() if v != ""} for row in reader]
        else:
            rows = jsonl(path)
            assert all(set(row) == set(source.model.model_fields) for row in rows), source.file_name
        assert rows, f"{source.file_name} is empty"
        for row in rows:
            source.model.model_validate(row)
        keys = [row[source.key] for row in rows]
        assert len(keys) == len(set(keys)), f"duplicate {source.key} in {source.file_name}"


def test_exactly_the_asked_number_of_customers_is_written(tmp_path: Path):
    summary = synthesize(tmp_path, customers=7, seed=1)

    assert summary.counts["customers.jsonl"] == 7
    assert len(jsonl(tmp_path / "customers.jsonl")) == 7
    assert summary.hidden_needs == 7


def test_manifest_records_seed_size_and_counts_without_a_clock_time(bank: Path):
    manifest = orjson.loads((bank / "manifest.json").read_bytes())

    assert manifest["seed"] == 11 and manifest["customers"] == CUSTOMERS
    assert manifest["as_of"] == DEFAULT_AS_OF.isoformat()
    assert manifest["counts"]["customers.jsonl"] == CUSTOMERS
    assert manifest["counts"]["transactions.csv"] == len(transactions(bank))
    assert manifest["counts"]["accounts.jsonl"] == len(jsonl(bank / "accounts.jsonl"))
    assert set(manifest) == {"generator", "seed", "customers", "as_of", "counts", "ground_truth"}


def test_progress_reports_customers_up_to_the_total(tmp_path: Path):
    seen: list[tuple[str, int, int]] = []
    synthesize(tmp_path, customers=30, seed=2, progress=lambda stage, done, total: seen.append((stage, done, total)))

    assert ("customers", 30, 30) in seen
    assert {stage for stage, _, _ in seen} == {"catalogue", "customers"}


def test_parents_are_at_least_18_years_older_than_their_children(bank: Path):
    born = {c["customer_id"]: date.fromisoformat(c["date_of_birth"]) for c in jsonl(bank / "customers.jsonl")}
    checked = 0
    for rel in jsonl(bank / "relationships.jsonl"):
        mine = born[rel["customer_id"]]
        theirs = born[rel["relative_id"]] if rel["relative_is_customer"] else date.fromisoformat(
            rel["relative_date_of_birth"])
        if rel["relation"] == "parent":
            assert add_years(theirs, 18) <= mine, rel
            checked += 1
        elif rel["relation"] == "child":
            assert add_years(mine, 18) <= theirs, rel
            checked += 1
    assert checked > 50


def test_relationships_between_customers_exist_in_both_directions(bank: Path):
    customers = {c["customer_id"] for c in jsonl(bank / "customers.jsonl")}
    rels = jsonl(bank / "relationships.jsonl")
    pairs = {(r["customer_id"], r["relative_id"], r["relation"]) for r in rels}

    for rel in rels:
        assert rel["customer_id"] in customers
        if rel["relative_is_customer"]:
            assert rel["relative_id"] in customers
            assert (rel["relative_id"], rel["customer_id"], INVERSE[rel["relation"]]) in pairs
        else:
            assert rel["relative_id"].startswith("R") and rel["relative_name"]
    assert {r["relation"] for r in rels} == set(INVERSE)
    assert {r["consent_to_share"] for r in rels} == {True, False}
    assert {r["relative_is_customer"] for r in rels} == {True, False}


def test_a_relative_who_is_not_a_customer_is_the_same_person_everywhere(bank: Path):
    identity: dict[str, tuple] = {}
    for rel in jsonl(bank / "relationships.jsonl"):
        if not rel["relative_is_customer"]:
            person = (rel["relative_name"], rel["relative_date_of_birth"])
            assert identity.setdefault(rel["relative_id"], person) == person


def test_dependants_are_the_customers_children_under_18(bank: Path):
    minors: Counter = Counter()
    for rel in jsonl(bank / "relationships.jsonl"):
        outsider = rel["relation"] == "child" and not rel["relative_is_customer"]
        if outsider and age_on(date.fromisoformat(rel["relative_date_of_birth"]), DEFAULT_AS_OF) < 18:
            minors[rel["customer_id"]] += 1
    customers = jsonl(bank / "customers.jsonl")

    assert all(c["dependants"] == minors[c["customer_id"]] for c in customers)
    assert any(c["dependants"] > 0 for c in customers)


def test_spouses_who_are_both_customers_share_a_couple_status(bank: Path):
    status = {c["customer_id"]: c["marital_status"] for c in jsonl(bank / "customers.jsonl")}
    rels = jsonl(bank / "relationships.jsonl")
    spouses = [r for r in rels if r["relation"] == "spouse" and r["relative_is_customer"]]

    assert spouses
    assert all(status[r["customer_id"]] == status[r["relative_id"]] in ("married", "partnered") for r in spouses)


def test_social_handles_are_unique_per_platform_and_held_by_about_60_percent(bank: Path):
    customers = jsonl(bank / "customers.jsonl")
    by_platform = defaultdict(list)
    for customer in customers:
        for platform, handle in customer["social_handles"].items():
            by_platform[platform].append(handle)

    assert all(len(handles) == len(set(handles)) for handles in by_platform.values())
    share = sum(bool(c["social_handles"]) for c in customers) / len(customers)
    assert 0.45 < share < 0.75


def test_campaign_events_by_customers_use_that_customers_handle(bank: Path):
    handles = {c["customer_id"]: c["social_handles"] for c in jsonl(bank / "customers.jsonl")}
    owner = {(p, h): cid for cid, hs in handles.items() for p, h in hs.items()}
    campaigns = {c["campaign_id"]: c for c in jsonl(bank / "campaigns.jsonl")}
    events = jsonl(bank / "campaign_events.jsonl")

    assert len(campaigns) >= 6
    for event in events:
        assert event["platform"] == campaigns[event["campaign_id"]]["platform"]
        assert event["timestamp"][:10] <= DEFAULT_AS_OF.isoformat()
        if event["customer_id"]:
            assert handles[event["customer_id"]][event["platform"]] == event["author_handle"]
    linked = [e for e in events if e["customer_id"]]
    by_handle_only = [e for e in events if not e["customer_id"] and (e["platform"], e["author_handle"]) in owner]
    strangers = [e for e in events if (e["platform"], e["author_handle"]) not in owner]
    assert linked and by_handle_only and strangers


def test_catalogue_has_40_products_across_every_category_and_60_faq():
    catalogue = products()
    ids = [p.product_id for p in catalogue]

    assert len(catalogue) >= 40 and len(ids) == len(set(ids))
    assert {p.category for p in catalogue} == {c.value for c in ProductCategory}
    assert all(p.need_statements and p.target_segments for p in catalogue)
    faq = faq_documents()
    assert len(faq) >= 60
    assert all(set(f.product_ids) <= set(ids) for f in faq)
    assert len({f.question for f in faq}) == len(faq)


def test_healthcare_services_point_at_healthcare_products_and_providers_span_cities():
    by_id = {p.product_id: p for p in products()}
    services = healthcare_services()

    linked = [s for s in services if s.product_id]
    assert linked and all(by_id[s.product_id].category == "healthcare" for s in linked)
    providers = [s for s in services if s.kind == "provider"]
    assert len(providers) >= 25
    assert len({s.city for s in providers}) >= 15
    assert {s.kind for s in services} == {"health_plan", "hsa", "medical_financing", "provider"}


def test_every_account_holds_a_catalogue_product_and_everyone_has_checking(bank: Path):
    catalogue = {p.product_id: p.category for p in products()}
    accounts = jsonl(bank / "accounts.jsonl")
    held = defaultdict(list)
    for account in accounts:
        assert account["product_id"] in catalogue
        assert account["opened_at"] <= DEFAULT_AS_OF.isoformat()
        held[account["customer_id"]].append(account)

    assert len(held) == CUSTOMERS
    for customer_accounts in held.values():
        first = min(customer_accounts, key=lambda a: a["opened_at"])
        assert first["product_id"] in ("P001", "P002", "P003", "P009")


def test_transactions_fall_in_the_year_before_as_of_on_open_customer_accounts(bank: Path):
    accounts = {a["account_id"]: a for a in jsonl(bank / "accounts.jsonl")}
    earliest = (DEFAULT_AS_OF - timedelta(days=364)).isoformat()
    rows = transactions(bank)

    assert all(earliest <= row["date"] <= DEFAULT_AS_OF.isoformat() for row in rows)
    assert all(accounts[row["account_id"]]["customer_id"] == row["customer_id"] for row in rows)
    assert all(row["date"] >= accounts[row["account_id"]]["opened_at"] for row in rows)
    assert all(float(row["amount"]) > 0 for row in rows if row["channel"] == "payroll")
    assert all(float(row["amount"]) < 0 for row in rows if row["category"] in ("groceries", "rent"))
    per_customer_month = len(rows) / CUSTOMERS / 12
    assert 6 <= per_customer_month <= 12


def test_hidden_needs_show_in_spending(bank: Path):
    needs = {h["customer_id"]: h["needs"] for h in jsonl(bank / GROUND_TRUTH_DIR / "hidden_needs.jsonl")}
    travel = Counter(row["customer_id"] for row in transactions(bank) if row["category"] == "travel")
    travellers = [c for c, n in needs.items() if "travel_rewards_card" in n]
    others = [c for c, n in needs.items() if "travel_rewards_card" not in n]

    assert travellers
    assert sum(travel[c] for c in travellers) / len(travellers) > 4 * sum(travel[c] for c in others) / len(others)


def test_a_coming_event_shows_as_spending_that_rises_over_the_last_months(bank: Path):
    rising = {"new_baby": "baby_supplies", "car_purchase": "auto", "home_renovation": "home_improvement",
              "starting_business": "business_supplies", "wedding": "wedding"}
    watched = {h["customer_id"]: {rising[n] for n in h["needs"] if n in rising}
               for h in jsonl(bank / GROUND_TRUTH_DIR / "hidden_needs.jsonl")}
    first_quarter = (DEFAULT_AS_OF - timedelta(days=300)).isoformat()
    last_quarter = (DEFAULT_AS_OF - timedelta(days=90)).isoformat()
    early = late = 0
    for row in transactions(bank):
        if row["category"] in watched[row["customer_id"]]:
            early += row["date"] < first_quarter
            late += row["date"] > last_quarter

    assert late > 3 * max(early, 1)


def test_hidden_needs_cover_every_customer_and_never_leak_into_source_files(bank: Path):
    truth = jsonl(bank / GROUND_TRUTH_DIR / "hidden_needs.jsonl")
    catalogue = {p.product_id for p in products()}

    assert [h["customer_id"] for h in truth] == [c["customer_id"] for c in jsonl(bank / "customers.jsonl")]
    assert all(set(h) == {"customer_id", "needs", "target_products"} for h in truth)
    assert all(set(h["target_products"]) <= catalogue for h in truth)
    assert sum(bool(h["needs"]) for h in truth) > CUSTOMERS / 2
    for source in SOURCES:
        text = (bank / source.file_name).read_text()
        assert "target_products" not in text and '"needs"' not in text
    assert not (bank / "hidden_needs.jsonl").exists()


def test_most_recent_opening_often_but_not_always_serves_a_hidden_need(bank: Path):
    truth = jsonl(bank / GROUND_TRUTH_DIR / "hidden_needs.jsonl")
    targets = {h["customer_id"]: set(h["target_products"]) for h in truth}
    latest: dict[str, dict] = {}
    for account in jsonl(bank / "accounts.jsonl"):
        current = latest.get(account["customer_id"])
        if current is None or account["opened_at"] > current["opened_at"]:
            latest[account["customer_id"]] = account
    with_needs = [c for c in targets if targets[c]]
    share = sum(latest[c]["product_id"] in targets[c] for c in with_needs) / len(with_needs)

    assert 0.4 < share < 0.85


def test_kyc_leaves_about_one_customer_in_ten_unverified(bank: Path):
    documents = jsonl(bank / "kyc_documents.jsonl")
    verified = {d["customer_id"] for d in documents if d["status"] == "verified"}
    per_customer = Counter(d["customer_id"] for d in documents)

    assert 0.03 < 1 - len(verified) / CUSTOMERS < 0.2
    assert set(per_customer.values()) <= {1, 2, 3}
    assert {d["status"] for d in documents} == {"verified", "pending", "expired", "rejected"}
