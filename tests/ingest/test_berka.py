"""The Berka PKDD'99 importer: real counts, valid Fargo files, bad rows reported, honest gaps."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest
from memory_store import memory_store

from ingest.berka import BadRow, BerkaImportError, decode_birth_number, import_berka
from ingest.loader import load_directory
from retrieval.records import SOURCE_BY_FILE

BERKA_DIR = Path("/work/shared/datasets/berka_pkdd99")

TINY_BANK = {
    "district.csv": [
        "A1;A2;A3;A4;A5;A6;A7;A8;A9;A10;A11;A12;A13;A14;A15;A16",
        '1;"Hl.m. Praha";"Prague";1204953;0;0;0;1;1;100.0;12541;0.29;0.43;167;85677;99107',
        '2;"Jesenik";"north Moravia";42821;4;13;5;1;3;48.4;8173;?;7.01;124;?;1358',
    ],
    "client.csv": [
        '"client_id";"birth_number";"district_id"',
        '1;"706213";1',
        '2;"450204";2',
        '3;"406009";1',
        '4;"7x0101";1',
    ],
    "account.csv": [
        '"account_id";"district_id";"frequency";"date"',
        '10;1;"POPLATEK MESICNE";930101',
        '20;2;"POPLATEK TYDNE";950315',
    ],
    "disp.csv": [
        '"disp_id";"client_id";"account_id";"type"',
        '100;1;10;"OWNER"',
        '101;3;10;"DISPONENT"',
        '102;2;20;"OWNER"',
        '103;4;20;"DISPONENT"',
    ],
    "card.csv": [
        '"card_id";"disp_id";"type";"issued"',
        '1000;100;"gold";931107 00:00:00',
        '1001;101;"junior";940101 00:00:00',
    ],
    "loan.csv": [
        '"loan_id";"account_id";"date";"amount";"duration";"payments";"status"',
        '5000;10;940705;96396;12;8033.00;"C"',
        '5001;20;941332;1000;12;100.00;"A"',
    ],
    "order.csv": [
        '"order_id";"account_id";"bank_to";"account_to";"amount";"k_symbol"',
        '1;10;"YZ";"87144583";2452.00;"SIPO"',
        '2;10;"ST";"89597016";3372.70;"UVER"',
        '3;20;"QR";"13943797";100.00;" "',
        '4;99;"QR";"13943797";5.00;"SIPO"',
    ],
}

TINY_TRANS = [
    '"trans_id";"account_id";"date";"type";"operation";"amount";"balance";"k_symbol";"bank";"account"',
    '7;10;930101;"PRIJEM";"VKLAD";700.00;700.00;"";"";""',
    '9;10;930205;"VYDAJ";"PREVOD NA UCET";300.00;400.00;"SIPO";"YZ";"87144583"',
    '8;10;930131;"PRIJEM";"";1.50;701.50;"UROK";"";""',
    '10;20;950320;"VYBER";"VYBER";50.00;-50.00;"";"";""',
    '11;10;930206;"PRIJEM";"VKLAD";abc;400.00;"";"";""',
]


def write_bank(directory: Path, tables: dict[str, list[str]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in tables.items():
        (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def assert_every_line_validates(out: Path) -> None:
    for name, source in SOURCE_BY_FILE.items():
        path = out / name
        if not path.exists():
            continue
        if name.endswith(".csv"):
            with path.open(newline="", encoding="utf-8") as handle:
                rows = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]
        else:
            rows = read_jsonl(path)
        for row in rows:
            source.model.model_validate(row)


@pytest.fixture(scope="module")
def real_import(tmp_path_factory):
    if not (BERKA_DIR / "client.csv").exists():
        pytest.skip(f"the Berka data set is not at {BERKA_DIR}")
    out = tmp_path_factory.mktemp("berka")
    return import_berka(BERKA_DIR, out), out


@pytest.fixture
def tiny_bank(tmp_path: Path) -> Path:
    return write_bank(tmp_path / "berka", TINY_BANK)


def test_real_berka_counts_match_the_source(real_import):
    report, out = real_import

    assert report.read == {
        "district.csv": 77,
        "client.csv": 5369,
        "account.csv": 4500,
        "disp.csv": 5369,
        "card.csv": 892,
        "loan.csv": 682,
        "order.csv": 6471,
    }
    assert report.rejected == []
    assert report.written["customers.jsonl"] == 5369
    products = Counter(account["product_id"] for account in read_jsonl(out / "accounts.jsonl"))
    assert products == {
        "BERKA-CURRENT": 4500,
        "BERKA-CARD-CLASSIC": 659,
        "BERKA-CARD-JUNIOR": 145,
        "BERKA-CARD-GOLD": 88,
        "BERKA-LOAN": 682,
    }


def test_real_berka_output_validates_and_loads_without_rejections(real_import):
    _, out = real_import

    assert_every_line_validates(out)
    summary = load_directory(memory_store(), out)

    assert summary.rejections == []
    assert summary.files["accounts.jsonl"].loaded == 4500 + 892 + 682


def test_real_berka_client_features_hold_cards_loans_and_demographics(real_import):
    _, out = real_import

    clients = read_jsonl(out / "berka_clients.jsonl")
    districts = orjson.loads((out / "berka_districts.json").read_bytes())

    assert len(clients) == 5369
    assert Counter(c["has_card"] for c in clients if c["has_card"]) == {"classic": 659, "junior": 145, "gold": 88}
    assert Counter(c["has_loan"] for c in clients if c["has_loan"]) == {"A": 203, "B": 31, "C": 403, "D": 45}
    assert Counter(a["role"] for c in clients for a in c["accounts"]) == {"owner": 4500, "disponent": 869}
    assert sum(entry["count"] for c in clients for entry in c["standing_orders"].values()) > 6471  # shared accounts
    assert len(districts) == 77
    assert districts["69"]["unemployment_rate_1995"] is None  # "?" in the source


def test_missing_transaction_table_is_named_in_unmapped(real_import):
    report, out = real_import

    assert any("transaction table" in line and "missing" in line for line in report.unmapped)
    assert not (out / "transactions.csv").exists()
    assert any("DISPONENT" in line and "Relationship" in line for line in report.unmapped)
    assert any("annual_income" in line and "A11" in line for line in report.unmapped)


def test_birth_number_gives_birth_date_and_gender():
    assert decode_birth_number("706213") == (date(1970, 12, 13), "female")
    assert decode_birth_number("450204") == (date(1945, 2, 4), "male")
    with pytest.raises(ValueError, match="birth_number"):
        decode_birth_number("701332")


def test_bad_rows_are_reported_with_file_line_and_reason_and_skipped(tiny_bank: Path, tmp_path: Path):
    report = import_berka(tiny_bank, tmp_path / "out")

    rejected = {(bad.file, bad.line): bad.reason for bad in report.rejected}
    assert "birth_number '7x0101'" in rejected[("client.csv", 5)]
    assert "client_id 4" in rejected[("disp.csv", 5)]  # its client was skipped
    assert "date '941332'" in rejected[("loan.csv", 3)]
    assert "account_id 99" in rejected[("order.csv", 5)]
    assert len(report.rejected) == 4
    assert str(BadRow("loan.csv", 3, "x")) == "loan.csv:3: x"
    customers = [c["customer_id"] for c in read_jsonl(tmp_path / "out" / "customers.jsonl")]
    assert customers == ["B1", "B2", "B3"]
    assert report.read["client.csv"] == 4


def test_tiny_bank_maps_owners_disponents_cards_and_loans(tiny_bank: Path, tmp_path: Path):
    out = tmp_path / "out"
    import_berka(tiny_bank, out)

    accounts = {a["account_id"]: a for a in read_jsonl(out / "accounts.jsonl")}
    customers = {c["customer_id"]: c for c in read_jsonl(out / "customers.jsonl")}
    clients = {c["client_id"]: c for c in read_jsonl(out / "berka_clients.jsonl")}

    assert set(accounts) == {"BA10", "BA20", "BC1000", "BC1001", "BL5000"}
    assert accounts["BA10"]["customer_id"] == "B1"  # the OWNER holds the account; the disponent B3 does not
    card = accounts["BC1001"]
    assert (card["customer_id"], card["product_id"], card["opened_at"]) == ("B3", "BERKA-CARD-JUNIOR", "1994-01-01")
    assert accounts["BL5000"]["balance"] == -96396 and accounts["BL5000"]["status"] == "open"
    assert customers["B1"]["gender"] == "female" and customers["B1"]["city"] == "Hl.m. Praha"
    assert customers["B2"]["annual_income"] == 8173 * 12
    assert customers["B3"]["customer_since"] == "1993-01-01"
    assert clients[3]["accounts"][0]["role"] == "disponent"
    assert clients[3]["standing_orders"]["household"] == {"count": 1, "total": 2452.0}
    assert clients[3]["has_card"] == "junior" and clients[3]["has_loan"] is None
    assert clients[1]["has_loan"] == "C" and clients[1]["has_card"] == "gold"
    assert clients[2]["standing_orders"]["unspecified"] == {"count": 1, "total": 100.0}
    assert_every_line_validates(out)
    assert load_directory(memory_store(), out).rejections == []


def test_missing_required_table_stops_naming_the_file(tiny_bank: Path, tmp_path: Path):
    (tiny_bank / "loan.csv").unlink()

    with pytest.raises(BerkaImportError, match="loan.csv"):
        import_berka(tiny_bank, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_trans_file_becomes_signed_transactions_and_sets_balances(tiny_bank: Path, tmp_path: Path):
    (tiny_bank / "trans.csv").write_text("\n".join(TINY_TRANS) + "\n", encoding="utf-8")
    out = tmp_path / "out"

    report = import_berka(tiny_bank, out)

    with (out / "transactions.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["transaction_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"BT7", "BT8", "BT9", "BT10"}
    assert float(rows["BT9"]["amount"]) == -300.0
    assert (rows["BT9"]["category"], rows["BT9"]["channel"]) == ("household", "direct_debit")
    deposit = rows["BT7"]
    assert (deposit["category"], deposit["customer_id"], deposit["account_id"]) == ("cash_deposit", "B1", "BA10")
    assert rows["BT8"]["category"] == "interest" and rows["BT8"]["date"] == "1993-01-31"
    assert float(rows["BT10"]["amount"]) == -50.0
    assert any(bad.file == "trans.csv" and bad.line == 6 and "amount 'abc'" in bad.reason for bad in report.rejected)
    balances = {a["account_id"]: a["balance"] for a in read_jsonl(out / "accounts.jsonl")}
    assert balances["BA10"] == 400.0 and balances["BA20"] == -50.0
    assert not any("transaction table" in line and "missing" in line for line in report.unmapped)
    assert_every_line_validates(out)
    assert load_directory(memory_store(), out).rejections == []


def test_original_asc_names_are_read_and_ownership_problems_are_reported(tmp_path: Path):
    tables = {name.replace(".csv", ".ASC").upper(): lines for name, lines in TINY_BANK.items()}
    tables["DISP.ASC"] = [
        '"disp_id";"client_id";"account_id";"type"',
        '100;1;10;"OWNER"',
        '101;3;10;"OWNER"',
        '102;2;20;"DISPONENT"',
    ]
    report = import_berka(write_bank(tmp_path / "asc", tables), tmp_path / "out")

    reasons = [str(bad) for bad in report.rejected]
    assert "DISP.ASC:3: account 10 already has an OWNER (first on line 2)" in reasons
    assert "ACCOUNT.ASC:3: account 20 has no OWNER in DISP.ASC" in reasons
    assert "DISP.ASC:4: account 20 was skipped: it has no OWNER" in reasons
    assert report.read["CLIENT.ASC"] == 4
    assert {a["account_id"] for a in read_jsonl(tmp_path / "out" / "accounts.jsonl")} == {"BA10", "BC1000", "BL5000"}
