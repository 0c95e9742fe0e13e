"""Import the Berka PKDD'99 bank (a real, anonymised Czech bank, 1993-1998) as Fargo source files.

The source is the folder of PKDD'99 tables (`client`, `account`, `disp`, `card`, `loan`, `order`,
`district`, optionally `trans`; each `.csv` or `.asc`, `;`-separated, quoted strings, YYMMDD dates).
Every table but `trans` is required. The output folder gets files the normal loader reads
(`fargo data load OUT`), each record validated against its model in `retrieval.records`, plus two
files outside `SOURCES` that the loader ignores and the Berka evaluation reads.

Mapping (ids carry a B prefix so they never collide with another bank's):

- client -> Customer `B<client_id>`. Birth date and gender from birth_number (women: month + 50;
  years are 19YY). city = the client's district name (A2). annual_income = the district's average
  monthly salary (A11) x 12, an estimate in CZK. Names are anonymised: "Client" / "<client_id>".
  marital_status "single" (unknown; see `unmapped_notes`). customer_since = opening date of the
  client's earliest account. Risk appetite and consent: the model's defaults.
- account + its OWNER disposition -> Account `BA<account_id>`, product BERKA-CURRENT, held by the
  OWNER; opened_at = account date; balance = the balance after the account's last transaction when
  `trans` is given, else null.
- DISPONENT disposition -> nothing: the disponent uses the owner's account but does not hold it and
  the data does not say how they are related, so no Relationship; the role is in berka_clients.jsonl.
- card -> Account `BC<card_id>`, product BERKA-CARD-JUNIOR/CLASSIC/GOLD, held by the client of the
  card's disposition; opened_at = issued; no balance or limit.
- loan -> Account `BL<loan_id>`, product BERKA-LOAN, held by the account's OWNER; opened_at = loan
  date; balance = -amount (the amount granted); status "closed" for A/B (contract finished), "open"
  for C/D (running).
- order (standing orders) -> nothing: counted and summed per purpose in berka_clients.jsonl.
- district -> nothing: demographics in berka_districts.json.
- KycDocument `BK<client_id>`: an ASSUMPTION, "verified" for every client who holds or uses an
  account, because a bank identifies whoever it opens an account for; the data holds no KYC.
- Products: BERKA-CURRENT, BERKA-CARD-JUNIOR/CLASSIC/GOLD and BERKA-LOAN, descriptions only.
- trans (optional) -> Transaction `BT<trans_id>` in transactions.csv, of the account's OWNER on
  `BA<account_id>`. amount signed by type (PRIJEM +, VYDAJ and VYBER -); category from k_symbol
  (`TRANS_PURPOSES`), else from operation; channel from operation (`OPERATIONS`), and
  "direct_debit" for an outgoing transfer whose k_symbol names a standing-order purpose.

berka_districts.json: {district_id: demographics}; "?" in the source becomes null.
berka_clients.jsonl, one line per imported client: client_id, customer_id, birth_date, gender,
district_id; `accounts` (account_id, role owner/disponent, statement frequency, opened_at,
branch_district_id, loan_status of the account's loan); `standing_orders` {purpose: {count, total}}
over every account the client owns or uses; `cards` and `has_card` (type of the latest card or null);
`loans` on accounts the client owns and `has_loan` (status A-D of the latest such loan or null).

Amounts stay in Czech koruna (CZK) and dates stay in 1993-1998. A bad source row (malformed value,
unknown code, duplicate id, dangling reference) is reported in `BerkaReport.rejected` with file,
line and reason and skipped, together with the rows that depend on it.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import orjson

from retrieval.records import (
    TRANSACTION_COLUMNS,
    Account,
    Customer,
    KycDocument,
    Product,
    Record,
    Transaction,
)

Progress = Callable[[str, int, int], None]

REQUIRED_TABLES: dict[str, tuple[str, ...]] = {
    "district": tuple(f"A{n}" for n in range(1, 17)),
    "client": ("client_id", "birth_number", "district_id"),
    "account": ("account_id", "district_id", "frequency", "date"),
    "disp": ("disp_id", "client_id", "account_id", "type"),
    "card": ("card_id", "disp_id", "type", "issued"),
    "loan": ("loan_id", "account_id", "date", "amount", "duration", "payments", "status"),
    "order": ("order_id", "account_id", "bank_to", "account_to", "amount", "k_symbol"),
}
TRANS_COLUMNS = ("trans_id", "account_id", "date", "type", "operation", "amount", "balance", "k_symbol")

FREQUENCIES = {"POPLATEK MESICNE": "monthly", "POPLATEK TYDNE": "weekly", "POPLATEK PO OBRATU": "after_transaction"}
ROLES = {"OWNER": "owner", "DISPONENT": "disponent"}
CARD_TYPES = ("junior", "classic", "gold")
LOAN_STATUSES = {
    "A": "contract finished, no problems",
    "B": "contract finished, loan not paid",
    "C": "running contract, OK so far",
    "D": "running contract, client in debt",
}
FINISHED_LOANS = {"A", "B"}
ORDER_PURPOSES = {
    "SIPO": "household",
    "UVER": "loan_payment",
    "POJISTNE": "insurance",
    "LEASING": "leasing",
    "": "unspecified",
}

# trans.type: the guide names PRIJEM and VYDAJ; the real file also says VYBER for cash withdrawals.
TRANS_SIGNS = {"PRIJEM": 1, "VYDAJ": -1, "VYBER": -1}
TRANS_PURPOSES = {
    "POJISTNE": "insurance",
    "SLUZBY": "bank_fees",
    "UROK": "interest",
    "SANKC. UROK": "penalty_interest",
    "SIPO": "household",
    "DUCHOD": "pension",
    "UVER": "loan_payment",
}
# operation -> (category when k_symbol says nothing, channel). Fargo has no branch-counter channel,
# so cash at the counter and at an ATM both become "atm".
OPERATIONS = {
    "VYBER KARTOU": ("card_withdrawal", "atm"),
    "VKLAD": ("cash_deposit", "atm"),
    "VYBER": ("cash_withdrawal", "atm"),
    "PREVOD Z UCTU": ("incoming_transfer", "transfer"),
    "PREVOD NA UCET": ("outgoing_transfer", "transfer"),
    "": ("bank_booking", "transfer"),
}
# Outgoing transfers with these purposes are the bank executing a standing order.
STANDING_ORDER_PURPOSES = {"SIPO", "UVER", "POJISTNE", "LEASING"}

DEMOGRAPHICS = {
    "A3": "region",
    "A4": "inhabitants",
    "A5": "municipalities_under_500",
    "A6": "municipalities_500_1999",
    "A7": "municipalities_2000_9999",
    "A8": "municipalities_over_10000",
    "A9": "cities",
    "A10": "urban_ratio_percent",
    "A11": "average_salary_czk_month",
    "A12": "unemployment_rate_1995",
    "A13": "unemployment_rate_1996",
    "A14": "entrepreneurs_per_1000",
    "A15": "crimes_1995",
    "A16": "crimes_1996",
}

CURRENT_PRODUCT = "BERKA-CURRENT"
LOAN_PRODUCT = "BERKA-LOAN"
CLIENTS_FILE = "berka_clients.jsonl"
DISTRICTS_FILE = "berka_districts.json"
TRANSACTIONS_FILE = "transactions.csv"
TRANS_PROGRESS_EVERY = 50_000


class BerkaImportError(ValueError):
    """The Berka folder cannot be imported at all (a missing table, an unreadable header)."""


@dataclass(frozen=True)
class BadRow:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class BerkaReport:
    read: dict[str, int] = field(default_factory=dict)
    """Source file -> data rows read (bad ones included)."""
    written: dict[str, int] = field(default_factory=dict)
    """Output file -> records written."""
    unmapped: list[str] = field(default_factory=list)
    rejected: list[BadRow] = field(default_factory=list)


def card_product(kind: str) -> str:
    return f"BERKA-CARD-{kind.upper()}"


def customer_id(client_id: int) -> str:
    return f"B{client_id}"


def current_account_id(account_id: int) -> str:
    return f"BA{account_id}"


# --- source rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    district_id: int
    name: str
    average_salary: float
    demographics: dict
    line: int


@dataclass(frozen=True)
class Client:
    client_id: int
    birth_date: date
    gender: str
    district_id: int
    line: int


@dataclass(frozen=True)
class BankAccount:
    account_id: int
    district_id: int
    frequency: str
    opened_at: date
    line: int


@dataclass(frozen=True)
class Disposition:
    disp_id: int
    client_id: int
    account_id: int
    role: str
    line: int


@dataclass(frozen=True)
class Card:
    card_id: int
    disp_id: int
    kind: str
    issued: date
    line: int


@dataclass(frozen=True)
class Loan:
    loan_id: int
    account_id: int
    granted_at: date
    amount: float
    duration_months: int
    monthly_payment: float
    status: str
    line: int


@dataclass(frozen=True)
class StandingOrder:
    order_id: int
    account_id: int
    amount: float
    purpose: str
    line: int


def parse_yymmdd(text: str) -> date:
    """A PKDD'99 date (YYMMDD, all in the 1900s); card dates carry a ` 00:00:00` time, which is dropped."""
    value = text.strip().split(" ")[0]
    try:
        if len(value) != 6 or not value.isdigit():
            raise ValueError
        return date(1900 + int(value[:2]), int(value[2:4]), int(value[4:]))
    except ValueError:
        raise ValueError(f"date {text!r} is not a YYMMDD date") from None


def decode_birth_number(text: str) -> tuple[date, str]:
    """Birth date and gender from a birth_number: YYMMDD for men, YY(MM+50)DD for women."""
    value = text.strip()
    if len(value) != 6 or not value.isdigit():
        raise ValueError(f"birth_number {text!r} is not YYMMDD")
    month = int(value[2:4])
    gender = "female" if month > 50 else "male"
    try:
        return date(1900 + int(value[:2]), month - 50 if month > 50 else month, int(value[4:])), gender
    except ValueError:
        raise ValueError(f"birth_number {text!r} is not a valid date") from None


def whole(values: dict[str, str], column: str) -> int:
    try:
        return int(values[column])
    except ValueError:
        raise ValueError(f"{column} {values[column]!r} is not a whole number") from None


def amount(values: dict[str, str], column: str) -> float:
    try:
        number = float(values[column])
    except ValueError:
        raise ValueError(f"{column} {values[column]!r} is not a number") from None
    if number < 0:
        raise ValueError(f"{column} {values[column]!r} is negative")
    return number


def code(values: dict[str, str], column: str, known: Iterable[str]) -> str:
    value = values[column]
    if value not in known:
        raise ValueError(f"{column} {value!r} is not one of {', '.join(repr(k) for k in known)}")
    return value


def demographic(text: str) -> float | int | None:
    if text == "?":
        return None
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_district(values: dict[str, str], line: int) -> District:
    if not values["A2"]:
        raise ValueError("A2 (district name) is empty")
    try:
        demographics = {"name": values["A2"]} | {
            name: values[column] if column == "A3" else demographic(values[column])
            for column, name in DEMOGRAPHICS.items()
        }
    except ValueError as exc:
        raise ValueError(f"a demographic value is not a number ({exc})") from None
    return District(whole(values, "A1"), values["A2"], amount(values, "A11"), demographics, line)


def parse_client(values: dict[str, str], line: int) -> Client:
    birth, gender = decode_birth_number(values["birth_number"])
    return Client(whole(values, "client_id"), birth, gender, whole(values, "district_id"), line)


def parse_account(values: dict[str, str], line: int) -> BankAccount:
    frequency = FREQUENCIES[code(values, "frequency", FREQUENCIES)]
    return BankAccount(
        whole(values, "account_id"), whole(values, "district_id"), frequency, parse_yymmdd(values["date"]), line
    )


def parse_disposition(values: dict[str, str], line: int) -> Disposition:
    role = ROLES[code(values, "type", ROLES)]
    return Disposition(whole(values, "disp_id"), whole(values, "client_id"), whole(values, "account_id"), role, line)


def parse_card(values: dict[str, str], line: int) -> Card:
    kind = code(values, "type", CARD_TYPES)
    return Card(whole(values, "card_id"), whole(values, "disp_id"), kind, parse_yymmdd(values["issued"]), line)


def parse_loan(values: dict[str, str], line: int) -> Loan:
    return Loan(
        whole(values, "loan_id"),
        whole(values, "account_id"),
        parse_yymmdd(values["date"]),
        amount(values, "amount"),
        whole(values, "duration"),
        amount(values, "payments"),
        code(values, "status", LOAN_STATUSES),
        line,
    )


def parse_order(values: dict[str, str], line: int) -> StandingOrder:
    purpose = ORDER_PURPOSES[code(values, "k_symbol", ORDER_PURPOSES)]
    return StandingOrder(
        whole(values, "order_id"), whole(values, "account_id"), amount(values, "amount"), purpose, line
    )


PARSERS: dict[str, Callable[[dict[str, str], int], object]] = {
    "district": parse_district,
    "client": parse_client,
    "account": parse_account,
    "disp": parse_disposition,
    "card": parse_card,
    "loan": parse_loan,
    "order": parse_order,
}


# --- reading ---------------------------------------------------------------------------------


def find_table(source_dir: Path, table: str) -> Path | None:
    """The table's file: `<table>.csv` or the original `<TABLE>.ASC`, any letter case."""
    wanted = {f"{table}.csv", f"{table}.asc"}
    matches = (path for path in sorted(source_dir.iterdir()) if path.name.lower() in wanted and path.is_file())
    return next(matches, None)


def required_tables(source_dir: Path) -> dict[str, Path]:
    if not source_dir.is_dir():
        raise BerkaImportError(f"{source_dir}: no such directory")
    found = {table: find_table(source_dir, table) for table in REQUIRED_TABLES}
    missing = [f"{table}.csv" for table, path in found.items() if path is None]
    if missing:
        raise BerkaImportError(
            f"{source_dir}: missing required Berka table(s) {', '.join(missing)} "
            "(also looked for .asc); nothing was written"
        )
    return {table: path for table, path in found.items() if path is not None}


def read_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str] | None]]:
    """Yield (line, values) for each data row; values is None for a row of the wrong width."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter=";", quotechar='"')
            header = [name.strip() for name in next(reader, [])]
            missing = [column for column in columns if column not in header]
            if missing:
                raise BerkaImportError(f"{path.name}: header lacks the column(s) {', '.join(missing)}")
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(header):
                    yield reader.line_num, None
                    continue
                yield reader.line_num, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
    except UnicodeDecodeError:
        raise BerkaImportError(f"{path.name}: not UTF-8 text") from None


def parsed_rows(path: Path, columns: tuple[str, ...], parse: Callable, report: BerkaReport) -> Iterator:
    """Parse every row of `path`; count it as read, and report it and skip it when it is bad."""
    report.read[path.name] = 0
    for line, values in read_rows(path, columns):
        report.read[path.name] += 1
        try:
            if values is None:
                raise ValueError("the number of values differs from the header's")
            yield parse(values, line)
        except ValueError as exc:
            report.rejected.append(BadRow(path.name, line, str(exc)))


# --- linking -----------------------------------------------------------------------------------


@dataclass
class BerkaBank:
    """The source rows that survived parsing and whose references all resolve."""

    districts: dict[int, District]
    clients: dict[int, Client]
    accounts: dict[int, BankAccount]
    dispositions: dict[int, Disposition]
    cards: dict[int, Card]
    loans: dict[int, Loan]
    orders: list[StandingOrder]
    owners: dict[int, int]
    """account_id -> client_id of its OWNER."""


class _Linker:
    """Drops rows with a bad reference, reporting each with its file and line."""

    def __init__(self, files: dict[str, str], rejected: list[BadRow]):
        self.files = files
        self.rejected = rejected

    def unique(self, table: str, rows: Iterable, key: str, clash: str = "duplicate {key} {value}") -> dict:
        kept: dict = {}
        for row in rows:
            value = getattr(row, key)
            if value in kept:
                reason = clash.format(key=key, value=value)
                self.reject(table, row, f"{reason} (first on line {kept[value].line})")
            else:
                kept[value] = row
        return kept

    def resolving(self, table: str, rows: Iterable, column: str, known: dict, known_table: str) -> list:
        kept = []
        for row in rows:
            value = getattr(row, column)
            if value in known:
                kept.append(row)
            else:
                reason = f"{column} {value} not found in {self.files[known_table]} (missing or skipped)"
                self.reject(table, row, reason)
        return kept

    def reject(self, table: str, row, reason: str) -> None:
        self.rejected.append(BadRow(self.files[table], row.line, reason))


def link(tables: dict[str, list], files: dict[str, str], rejected: list[BadRow]) -> BerkaBank:
    """Keep the rows whose references resolve, in dependency order, so a dropped row drops its dependants."""
    linker = _Linker(files, rejected)
    districts = linker.unique("district", tables["district"], "district_id")
    clients = linker.unique(
        "client", linker.resolving("client", tables["client"], "district_id", districts, "district"), "client_id"
    )
    accounts = linker.unique(
        "account", linker.resolving("account", tables["account"], "district_id", districts, "district"), "account_id"
    )
    disps = linker.resolving("disp", tables["disp"], "client_id", clients, "client")
    disps = linker.unique("disp", linker.resolving("disp", disps, "account_id", accounts, "account"), "disp_id")
    owners = linker.unique(
        "disp", (d for d in disps.values() if d.role == "owner"), "account_id", "account {value} already has an OWNER"
    )
    for disp_id in [d.disp_id for d in disps.values() if d.role == "owner" and owners[d.account_id] is not d]:
        del disps[disp_id]
    ownerless = {account_id for account_id in accounts if account_id not in owners}
    for account_id in sorted(ownerless):
        linker.reject("account", accounts.pop(account_id), f"account {account_id} has no OWNER in {files['disp']}")
    dispositions = {}
    for disp in disps.values():
        if disp.account_id in ownerless:
            linker.reject("disp", disp, f"account {disp.account_id} was skipped: it has no OWNER")
        else:
            dispositions[disp.disp_id] = disp
    cards = linker.unique(
        "card", linker.resolving("card", tables["card"], "disp_id", dispositions, "disp"), "card_id"
    )
    loans = linker.unique(
        "loan", linker.resolving("loan", tables["loan"], "account_id", accounts, "account"), "loan_id"
    )
    loans = linker.unique("loan", loans.values(), "account_id", "account {value} already has a loan")
    orders = linker.unique(
        "order", linker.resolving("order", tables["order"], "account_id", accounts, "account"), "order_id"
    )
    return BerkaBank(
        districts,
        clients,
        accounts,
        dispositions,
        cards,
        {loan.loan_id: loan for loan in loans.values()},
        list(orders.values()),
        {account_id: disp.client_id for account_id, disp in owners.items()},
    )


# --- mapping (pure) ----------------------------------------------------------------------------


def products() -> list[dict]:
    """One product per Berka product type; the data gives no rates, fees, limits or age rules."""
    bank = "the Berka (PKDD'99) Czech bank, 1993-1998"
    cards = [
        {
            "product_id": card_product(kind),
            "name": f"{kind.capitalize()} card",
            "category": "card",
            "description": f"A {kind} payment card of {bank}, issued on a current account. The source calls its cards "
            "credit cards but gives no credit limit, interest rate, fee or age rule.",
        }
        for kind in CARD_TYPES
    ]
    return [
        {
            "product_id": CURRENT_PRODUCT,
            "name": "Current account",
            "category": "deposit",
            "description": f"A current account at {bank}, in Czech koruna, with statements issued monthly, weekly or "
            "after each transaction. One owner may add users (disponents). The source gives no interest rate or fee.",
        },
        *cards,
        {
            "product_id": LOAN_PRODUCT,
            "name": "Loan",
            "category": "loan",
            "description": f"A loan granted on a current account at {bank}, at most one per account, asked for by the "
            "account owner and repaid in equal monthly payments over 12 to 60 months. The source gives amount, "
            "duration and payment but no interest rate.",
        },
    ]


def customer_record(client: Client, district: District, since: date | None) -> dict:
    return {
        "customer_id": customer_id(client.client_id),
        "first_name": "Client",
        "last_name": str(client.client_id),
        "date_of_birth": client.birth_date,
        "gender": client.gender,
        "city": district.name,
        "annual_income": round(district.average_salary * 12, 2),
        "marital_status": "single",
        "customer_since": since,
    }


def client_accounts(bank: BerkaBank) -> dict[int, list[Disposition]]:
    by_client: dict[int, list[Disposition]] = defaultdict(list)
    for disp in sorted(bank.dispositions.values(), key=lambda d: d.disp_id):
        by_client[disp.client_id].append(disp)
    return by_client


def customers(bank: BerkaBank) -> Iterator[dict]:
    dispositions = client_accounts(bank)
    for client in bank.clients.values():
        opened = [bank.accounts[d.account_id].opened_at for d in dispositions.get(client.client_id, [])]
        yield customer_record(client, bank.districts[client.district_id], min(opened, default=None))


def kyc_documents(bank: BerkaBank) -> Iterator[dict]:
    """The assumed identification at account opening, for every client who holds or uses an account."""
    for client_id in sorted(client_accounts(bank)):
        yield {
            "document_id": f"BK{client_id}",
            "customer_id": customer_id(client_id),
            "doc_type": "assumed_identification_at_account_opening",
            "status": "verified",
        }


def accounts(bank: BerkaBank, balances: dict[str, float]) -> Iterator[dict]:
    """Current accounts (held by their OWNER), cards and loans; `balances` by Fargo account id."""
    for account in bank.accounts.values():
        yield {
            "account_id": current_account_id(account.account_id),
            "customer_id": customer_id(bank.owners[account.account_id]),
            "product_id": CURRENT_PRODUCT,
            "opened_at": account.opened_at,
            "balance": balances.get(current_account_id(account.account_id)),
        }
    for card in bank.cards.values():
        yield {
            "account_id": f"BC{card.card_id}",
            "customer_id": customer_id(bank.dispositions[card.disp_id].client_id),
            "product_id": card_product(card.kind),
            "opened_at": card.issued,
        }
    for loan in bank.loans.values():
        yield {
            "account_id": f"BL{loan.loan_id}",
            "customer_id": customer_id(bank.owners[loan.account_id]),
            "product_id": LOAN_PRODUCT,
            "opened_at": loan.granted_at,
            "balance": -loan.amount,
            "status": "closed" if loan.status in FINISHED_LOANS else "open",
        }


def order_totals(orders: Iterable[StandingOrder]) -> dict[int, dict[str, dict]]:
    """account_id -> purpose -> {count, total}, every purpose present."""
    totals: dict[int, dict[str, dict]] = defaultdict(
        lambda: {purpose: {"count": 0, "total": 0.0} for purpose in ORDER_PURPOSES.values()}
    )
    for order in orders:
        entry = totals[order.account_id][order.purpose]
        entry["count"] += 1
        entry["total"] = round(entry["total"] + order.amount, 2)
    return totals


def client_features(bank: BerkaBank) -> Iterator[dict]:
    """Per-client facts for the Berka evaluation (berka_clients.jsonl)."""
    dispositions = client_accounts(bank)
    orders = order_totals(bank.orders)
    loan_by_account = {loan.account_id: loan for loan in bank.loans.values()}
    cards_by_disp: dict[int, list[Card]] = defaultdict(list)
    for card in bank.cards.values():
        cards_by_disp[card.disp_id].append(card)
    for client in bank.clients.values():
        mine = dispositions.get(client.client_id, [])
        cards = sorted((c for d in mine for c in cards_by_disp[d.disp_id]), key=lambda c: (c.issued, c.card_id))
        loans = sorted(
            (loan_by_account[d.account_id] for d in mine if d.role == "owner" and d.account_id in loan_by_account),
            key=lambda n: (n.granted_at, n.loan_id),
        )
        yield {
            "client_id": client.client_id,
            "customer_id": customer_id(client.client_id),
            "birth_date": client.birth_date.isoformat(),
            "gender": client.gender,
            "district_id": client.district_id,
            "accounts": [_account_facts(bank, d, loan_by_account) for d in mine],
            "standing_orders": _summed_orders(orders, [d.account_id for d in mine]),
            "cards": [{"card_id": c.card_id, "type": c.kind, "issued": c.issued.isoformat()} for c in cards],
            "has_card": cards[-1].kind if cards else None,
            "loans": [_loan_facts(loan) for loan in loans],
            "has_loan": loans[-1].status if loans else None,
        }


def _account_facts(bank: BerkaBank, disp: Disposition, loan_by_account: dict[int, Loan]) -> dict:
    account = bank.accounts[disp.account_id]
    loan = loan_by_account.get(disp.account_id)
    return {
        "account_id": account.account_id,
        "role": disp.role,
        "frequency": account.frequency,
        "opened_at": account.opened_at.isoformat(),
        "branch_district_id": account.district_id,
        "loan_status": loan.status if loan else None,
    }


def _loan_facts(loan: Loan) -> dict:
    return {
        "loan_id": loan.loan_id,
        "account_id": loan.account_id,
        "granted_at": loan.granted_at.isoformat(),
        "amount": loan.amount,
        "duration_months": loan.duration_months,
        "monthly_payment": loan.monthly_payment,
        "status": loan.status,
        "status_meaning": LOAN_STATUSES[loan.status],
    }


def _summed_orders(orders: dict[int, dict[str, dict]], account_ids: list[int]) -> dict[str, dict]:
    summed = {purpose: {"count": 0, "total": 0.0} for purpose in ORDER_PURPOSES.values()}
    for account_id in account_ids:
        for purpose, entry in orders.get(account_id, {}).items():
            summed[purpose]["count"] += entry["count"]
            summed[purpose]["total"] = round(summed[purpose]["total"] + entry["total"], 2)
    return summed


def transaction_record(values: dict[str, str], owners: dict[int, int]) -> tuple[dict, float]:
    """A Fargo transaction and the account balance after it, from one trans row."""
    account_id = whole(values, "account_id")
    if account_id not in owners:
        raise ValueError(f"account_id {account_id} is not an imported account")
    sign = TRANS_SIGNS[code(values, "type", TRANS_SIGNS)]
    operation = code(values, "operation", OPERATIONS)
    fallback_category, channel = OPERATIONS[operation]
    purpose = values["k_symbol"]
    if operation == "PREVOD NA UCET" and purpose in STANDING_ORDER_PURPOSES:
        channel = "direct_debit"
    try:
        balance = float(values["balance"])
    except ValueError:
        raise ValueError(f"balance {values['balance']!r} is not a number") from None
    record = {
        "transaction_id": f"BT{whole(values, 'trans_id')}",
        "customer_id": customer_id(owners[account_id]),
        "account_id": current_account_id(account_id),
        "date": parse_yymmdd(values["date"]),
        "amount": sign * amount(values, "amount"),
        "category": TRANS_PURPOSES.get(purpose, fallback_category),
        "channel": channel,
    }
    return record, balance


# --- writing -----------------------------------------------------------------------------------


def write_lines(path: Path, lines: Iterable[bytes]) -> int:
    """Write `lines` to a temporary file and move it into place, so a failed import leaves no half file."""
    partial = path.with_name(path.name + ".part")
    count = 0
    with partial.open("wb") as handle:
        for line in lines:
            handle.write(line)
            count += 1
    os.replace(partial, path)
    return count


def validated(model: type[Record], records: Iterable[dict]) -> Iterator[bytes]:
    for record in records:
        yield orjson.dumps(model.model_validate(record).model_dump(mode="json")) + b"\n"


def write_transactions(
    source: Path, out: Path, owners: dict[int, int], report: BerkaReport, progress: Progress
) -> dict[str, float]:
    """Convert trans rows to transactions.csv; return each account's balance after its last transaction."""
    total = _count_lines(source) - 1
    latest: dict[str, tuple[str, int, float]] = {}
    written = 0
    partial = out.with_name(out.name + ".part")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TRANSACTION_COLUMNS)

        def convert(values: dict[str, str], line: int) -> tuple[dict, float]:
            return transaction_record(values, owners)

        for record, balance in parsed_rows(source, TRANS_COLUMNS, convert, report):
            dumped = Transaction.model_validate(record).model_dump(mode="json")
            writer.writerow(["" if dumped[column] is None else dumped[column] for column in TRANSACTION_COLUMNS])
            written += 1
            order = (dumped["date"], int(dumped["transaction_id"].removeprefix("BT")), balance)
            if dumped["account_id"] not in latest or order[:2] > latest[dumped["account_id"]][:2]:
                latest[dumped["account_id"]] = order
            if written % TRANS_PROGRESS_EVERY == 0:
                progress(f"read {source.name}", report.read[source.name], total)
    os.replace(partial, out)
    progress(f"read {source.name}", report.read[source.name], report.read[source.name])
    report.written[out.name] = written
    return {account_id: balance for account_id, (_, _, balance) in latest.items()}


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


# --- what does not map -------------------------------------------------------------------------


def unmapped_notes(bank: BerkaBank, source_dir: Path, trans: Path | None) -> list[str]:
    disponents = sum(1 for d in bank.dispositions.values() if d.role == "disponent")
    blank_orders = sum(1 for o in bank.orders if o.purpose == "unspecified")
    notes = [_transaction_note(source_dir, trans)]
    notes += [
        f"district demographics (A3-A16 of {len(bank.districts)} districts) are not a Fargo record: kept as customer "
        f"features in {DISTRICTS_FILE}; a customer's city is their district's name (A2), not a town of residence",
        "annual_income is not in the data: it is an estimate, the client's district average monthly salary (A11) x 12, "
        "in CZK, the same for every client of a district",
        "names are anonymised: first_name 'Client', last_name the client id; address, occupation, employer, e-mail and "
        "phone are not in the data and stay empty",
        "marital_status is not in the data: every customer is written 'single' only because the model needs a "
        "value and 'single' is the one that brings no spouse or partner into recommendations; it is NOT known; "
        "dependants (0) is likewise unknown, not known to be zero",
        "risk_appetite and consent are not in the data: Fargo's model defaults are used (risk medium; profiling "
        "allowed; marketing, health data and family sharing not)",
        f"{disponents:,} DISPONENT dispositions: a disponent may use the owner's account, but the data does not say "
        "how they are related (spouse, child, other), so no Relationship is written; the disponent gets no Account "
        f"for the shared account (its OWNER holds it); the role is in {CLIENTS_FILE}",
        "KYC is not in the data: every client who holds or uses an account is ASSUMED identified when the account was "
        "opened, written as one KycDocument with status 'verified', doc_type "
        "'assumed_identification_at_account_opening' and no verified_at date",
        f"{len(bank.orders):,} standing orders are not a Fargo record: counted and summed per client by purpose "
        f"(SIPO household, UVER loan_payment, POJISTNE insurance, LEASING leasing, {blank_orders:,} blank as "
        f"'unspecified') in {CLIENTS_FILE}; recipient bank and account are dropped",
        f"statement frequency and branch district of an account are not Account fields: kept in {CLIENTS_FILE}",
        "a loan Account's balance is minus the amount granted, not the debt outstanding (the data has none); duration, "
        f"monthly payment and status A-D are in {CLIENTS_FILE}; status A/B (contract finished) is written 'closed', "
        "C/D (running) 'open'",
        "cards: the data has no credit limit, balance, fee or expiry; every card is written 'open'",
        "products: rates, fees, limits and age rules (e.g. who may hold a junior card) are not in the data; the five "
        "Berka products carry descriptions only",
        "amounts are Czech koruna (CZK), not converted; Fargo's profile summary prints them with a $ sign",
        "dates are the source's (1993-1998), not moved to the present, so features over a window ending today "
        "(e.g. the last 12 months of spending) see none of the Berka transactions",
    ]
    return notes


def _transaction_note(source_dir: Path, trans: Path | None) -> str:
    if trans is None:
        return (
            f"the transaction table (trans.csv) is missing from {source_dir}: no transactions are written, current "
            "account balances are unknown (null) and spending features stay empty"
        )
    return (
        f"transactions from {trans.name}: partner bank and account are dropped; cash at a branch counter and at an "
        "ATM are both channel 'atm'; incoming transfers are not labelled as salary in the data, so only pensions "
        "(DUCHOD) count as income; the current account's balance is the balance after its last transaction"
    )


# --- the import --------------------------------------------------------------------------------


def import_berka(source_dir: Path, out_dir: Path, progress: Progress | None = None) -> BerkaReport:
    """Write the Berka bank in `source_dir` as Fargo source files into `out_dir`; say what does not map."""
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    progress = progress or (lambda stage, done, total: None)
    paths = required_tables(source_dir)
    report = BerkaReport()
    tables = {}
    for table, path in paths.items():
        tables[table] = list(parsed_rows(path, REQUIRED_TABLES[table], PARSERS[table], report))
        progress(f"read {path.name}", report.read[path.name], report.read[path.name])
    bank = link(tables, {table: path.name for table, path in paths.items()}, report.rejected)
    out_dir.mkdir(parents=True, exist_ok=True)
    trans = find_table(source_dir, "trans")
    balances = write_transactions(trans, out_dir / TRANSACTIONS_FILE, bank.owners, report, progress) if trans else {}
    outputs = (
        ("products.jsonl", validated(Product, products())),
        ("customers.jsonl", validated(Customer, customers(bank))),
        ("kyc_documents.jsonl", validated(KycDocument, kyc_documents(bank))),
        ("accounts.jsonl", validated(Account, accounts(bank, balances))),
        (CLIENTS_FILE, (orjson.dumps(facts) + b"\n" for facts in client_features(bank))),
    )
    for name, lines in outputs:
        report.written[name] = write_lines(out_dir / name, lines)
        progress(f"write {name}", report.written[name], report.written[name])
    districts = {str(d.district_id): d.demographics for d in bank.districts.values()}
    write_lines(out_dir / DISTRICTS_FILE, [orjson.dumps(districts, option=orjson.OPT_INDENT_2) + b"\n"])
    report.written[DISTRICTS_FILE] = len(districts)
    report.unmapped = unmapped_notes(bank, source_dir, trans)
    return report
