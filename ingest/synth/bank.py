"""The synthetic bank: every source file Fargo ingests, plus the hidden truth behind it.

`synthesize(out_dir, customers, seed)` writes one file per `retrieval.records.SOURCES`
entry (JSONL, and `transactions.csv` like a warehouse export), a `manifest.json`
and `ground_truth/hidden_needs.jsonl`: each customer's hidden needs and the
products that would serve them, which Fargo must never read while serving.

Customers are made in chunks of whole households, each chunk from its own
seeded generators, and written as they are made, so memory stays flat and
the same seed always gives byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from random import Random
from typing import BinaryIO

import numpy as np
import orjson

from ingest.synth.accounts import Holdings, open_accounts, serving_products
from ingest.synth.catalogue import faq_documents, healthcare_services, products
from ingest.synth.customers import (
    HandleRegistry,
    RecordCounter,
    customer_record,
    customer_since,
    disclosures,
    kyc_documents,
    risk_appetite,
    social_handles,
)
from ingest.synth.needs import ELIGIBLE, NEED_BY_NAME, draw_needs
from ingest.synth.people import (
    HOUSEHOLD_KINDS,
    HouseholdMaker,
    IdCounter,
    Link,
    Person,
    life_stage,
    make_household,
    relationship_rows,
    settle_homes,
)
from ingest.synth.social import campaign_events, campaign_records
from ingest.synth.transactions import csv_header, transactions_csv
from retrieval.records import GROUND_TRUTH_DIR, SOURCES

DEFAULT_AS_OF = date(2026, 9, 30)
CHUNK_CUSTOMERS = 2000
HIDDEN_NEEDS_FILE = "hidden_needs.jsonl"
SPOUSE_SHARES_NEED = 0.7

Progress = Callable[[str, int, int], None]


@dataclass
class SynthSummary:
    out_dir: Path
    counts: dict[str, int] = field(default_factory=dict)  # records per source file name
    hidden_needs: int = 0  # lines in ground_truth/hidden_needs.jsonl


@dataclass
class _Bank:
    """State carried from chunk to chunk: numbering and the handles already taken."""

    seed: int
    as_of: date
    ids: IdCounter = field(default_factory=IdCounter)
    handles: HandleRegistry = field(default_factory=HandleRegistry)
    accounts: RecordCounter = field(default_factory=lambda: RecordCounter("A"))
    documents: RecordCounter = field(default_factory=lambda: RecordCounter("K"))
    disclosures: RecordCounter = field(default_factory=lambda: RecordCounter("D"))
    transactions: int = 0
    events: int = 0


@dataclass
class _Chunk:
    records: dict[str, list[dict]]
    transactions: str
    transaction_count: int
    hidden_needs: list[dict]


def _jsonl(records: list) -> bytes:
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_OMIT_MICROSECONDS
    return b"".join(orjson.dumps(record, option=option) for record in records)


def _numpy_seed(seed: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, chunk])


def synthesize(out_dir: Path, customers: int, seed: int, as_of: date = DEFAULT_AS_OF,
               progress: Progress | None = None) -> SynthSummary:
    """Write a bank of `customers` customers into `out_dir`; the same arguments give the same bytes."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    out_dir = Path(out_dir)
    (out_dir / GROUND_TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    report = progress or (lambda stage, done, total: None)
    summary = SynthSummary(out_dir, {source.file_name: 0 for source in SOURCES})
    files = {source.file_name: (out_dir / source.file_name).open("wb") for source in SOURCES}
    truth = (out_dir / GROUND_TRUTH_DIR / HIDDEN_NEEDS_FILE).open("wb")
    try:
        _write_fixed(files, summary, as_of, report)
        files["transactions.csv"].write(csv_header().encode())
        bank = _Bank(seed, as_of)
        for chunk_index, start in enumerate(range(0, customers, CHUNK_CUSTOMERS)):
            chunk = _make_chunk(bank, chunk_index, min(CHUNK_CUSTOMERS, customers - start))
            _write_chunk(files, truth, chunk, summary)
            report("customers", start + min(CHUNK_CUSTOMERS, customers - start), customers)
    finally:
        for handle in (*files.values(), truth):
            handle.close()
    _write_manifest(out_dir, summary, seed, customers, as_of)
    return summary


def _write_fixed(files: dict[str, BinaryIO], summary: SynthSummary, as_of: date, report: Progress) -> None:
    fixed = {
        "products.jsonl": [p.model_dump(mode="json") for p in products()],
        "healthcare_services.jsonl": [s.model_dump(mode="json") for s in healthcare_services()],
        "faq.jsonl": [f.model_dump(mode="json") for f in faq_documents()],
        "campaigns.jsonl": campaign_records(as_of),
    }
    for done, (name, records) in enumerate(fixed.items(), start=1):
        files[name].write(_jsonl(records))
        summary.counts[name] = len(records)
        report("catalogue", done, len(fixed))


def _write_chunk(files: dict[str, BinaryIO], truth: BinaryIO, chunk: _Chunk, summary: SynthSummary) -> None:
    for name, records in chunk.records.items():
        files[name].write(_jsonl(records))
        summary.counts[name] += len(records)
    files["transactions.csv"].write(chunk.transactions.encode())
    summary.counts["transactions.csv"] += chunk.transaction_count
    truth.write(_jsonl(chunk.hidden_needs))
    summary.hidden_needs += len(chunk.hidden_needs)


def _write_manifest(out_dir: Path, summary: SynthSummary, seed: int, customers: int, as_of: date) -> None:
    manifest = {
        "generator": "fargo-synth",
        "seed": seed,
        "customers": customers,
        "as_of": as_of,
        "counts": summary.counts,
        "ground_truth": {f"{GROUND_TRUTH_DIR}/{HIDDEN_NEEDS_FILE}": summary.hidden_needs},
    }
    (out_dir / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")


# ----- one chunk -----


def _make_chunk(bank: _Bank, index: int, count: int) -> _Chunk:
    rng = Random(f"fargo-synth:{bank.seed}:{index}")
    people, links = _households(bank, rng, count)
    customers = [person for person in people if person.is_customer]
    for person in customers:
        _profile(rng, bank, person)
    _assign_needs(rng, customers, links)
    records: dict[str, list[dict]] = {
        "customers.jsonl": [], "kyc_documents.jsonl": [], "disclosures.jsonl": [], "accounts.jsonl": [],
    }
    holdings: list[Holdings] = []
    for person in customers:
        customer = customer_record(rng, person)
        records["customers.jsonl"].append(customer)
        records["kyc_documents.jsonl"] += kyc_documents(rng, person, bank.as_of, bank.documents)
        records["disclosures.jsonl"] += disclosures(rng, person, customer["consent"]["health_data"], bank.as_of,
                                                    bank.disclosures)
        held = open_accounts(rng, person, bank.as_of, bank.accounts)
        records["accounts.jsonl"] += held.records
        holdings.append(held)
    records["relationships.jsonl"] = relationship_rows(links, bank.ids, rng)
    events = campaign_events(rng, customers, bank.handles, bank.as_of, bank.events + 1)
    bank.events += len(events)
    records["campaign_events.jsonl"] = events
    text, rows = transactions_csv(_numpy_seed(bank.seed, index), customers, holdings, bank.as_of,
                                  bank.transactions + 1)
    bank.transactions += rows
    hidden = [{"customer_id": p.pid, "needs": p.needs, "target_products": p.targets} for p in customers]
    return _Chunk(records, text, rows, hidden)


def _households(bank: _Bank, rng: Random, count: int) -> tuple[list[Person], list[Link]]:
    bank.ids.budget = count
    maker = HouseholdMaker(rng, bank.as_of, bank.ids)
    kinds, weights = zip(*HOUSEHOLD_KINDS, strict=True)
    people: list[Person] = []
    links: list[Link] = []
    while bank.ids.budget > 0:
        members, household_links = make_household(maker, rng.choices(kinds, weights=weights)[0])
        settle_homes(members)
        people += members
        links += household_links
    return people, links


def _profile(rng: Random, bank: _Bank, person: Person) -> None:
    person.stage = life_stage(person)
    person.risk = risk_appetite(rng, person)
    person.since = customer_since(rng, person, bank.as_of)
    person.handles = social_handles(rng, person, bank.handles)


def _assign_needs(rng: Random, customers: list[Person], links: list[Link]) -> None:
    for person in customers:
        person.needs = draw_needs(rng, person, person.home)
    for link in links:
        a, b = link.person, link.relative
        if link.relation != "spouse" or not (a.is_customer and b.is_customer) or a.home is not b.home:
            continue
        for name in a.needs:
            shared = NEED_BY_NAME[name].shared and name not in b.needs and ELIGIBLE[name](b, b.home)
            if shared and rng.random() < SPOUSE_SHARES_NEED:
                b.needs.append(name)
    for person in customers:
        targets: list[str] = []
        for name in person.needs:
            targets += [p for p in serving_products(person, NEED_BY_NAME[name].products) if p not in targets]
        person.targets = targets
        person.needs = [name for name in person.needs if serving_products(person, NEED_BY_NAME[name].products)]
