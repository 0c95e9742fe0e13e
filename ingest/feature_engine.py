"""Running the feature stage on an analytical engine: DuckDB embedded (the default) or Apache Spark.

The store's records are exported as JSON lines (what `mongoexport` writes; on the
embedded store the stored JSON text is copied as is) and turned by DuckDB into
Parquet parts of the fields the queries read, a part at a time: a million
customers' month buckets are 26 GB of JSON but a few GB of Parquet, and only one
part's JSON is on disk at once. Each engine reads the parts into the flat views
`ingest.feature_sql` queries, and the rows come back ordered by customer, so
memory stays bounded however many customers the bank has: DuckDB spills to disk
past its memory limit, Spark to its executors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Self

import orjson

from ingest.feature_sql import (
    customer_aggregates,
    customer_query,
    monthly_query,
    spend_query,
)
from ingest.features import feature_document, month_keys
from ingest.loader import batched
from retrieval.json_export import dump_json_lines

ENGINES = ("duckdb", "spark", "python")
EXPORT_BATCH = 500
DUCKDB_MEMORY_LIMIT = "3GB"  # past this DuckDB spills to the work directory; the run stays well under 8 GiB
PARQUET_PART_BYTES = 256 << 20  # the JSON lines turned into one Parquet part

# Each exported collection and the fields the queries read, with their types.
EXPORTED: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "VARCHAR", "date_of_birth": "VARCHAR", "marital_status": "VARCHAR", "dependants": "BIGINT",
        "city": "VARCHAR", "occupation": "VARCHAR", "annual_income": "DOUBLE", "risk_appetite": "VARCHAR",
        "customer_since": "VARCHAR",
    },
    "accounts": {
        "customer_id": "VARCHAR", "product_id": "VARCHAR", "status": "VARCHAR", "balance": "DOUBLE",
        "opened_at": "VARCHAR",
    },
    # one document per customer-month, its transactions nested (the loader's bucket pattern)
    "transactions": {"customer_id": "VARCHAR", "month": "VARCHAR", "transactions": "TRANSACTIONS"},
    "disclosures": {"customer_id": "VARCHAR", "kind": "VARCHAR", "topic": "VARCHAR"},
    "kyc_documents": {"customer_id": "VARCHAR", "status": "VARCHAR"},
}
TRANSACTION_FIELDS = {"date": "VARCHAR", "amount": "DOUBLE", "category": "VARCHAR", "channel": "VARCHAR"}
TARGETS_FILE = "targets.jsonl"
LOCAL_SHUFFLE_PARTITIONS = 4  # Spark's 200 suit a cluster; on one machine they are 200 tiny tasks per query
# ... but each partition's results reach the driver whole: 4 of them held 100,000 customers in a 4 GB driver, and
# at a million the driver ran out of heap (task-result-getter). Past 100,000, one more partition per 25,000.
CUSTOMERS_PER_PARTITION = 25_000
# On one machine the driver is also the executor: its heap holds the cached monthly table and each partition of
# results handed to Python. Spark's 1 GB default runs out at 100,000 customers.
LOCAL_DRIVER_MEMORY = "4g"


class FeatureEngineError(RuntimeError):
    """The engine could not run (not installed, or failed); the message says which and why."""


def export_records(store, directory: Path, customer_ids: list[str] | None = None) -> None:
    """Write the collections features read to `directory` as Parquet, a folder of parts each: all of their records,
    or only `customer_ids`'."""
    import duckdb

    directory.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect()
    connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    try:
        for name in EXPORTED:
            with ParquetParts(connection, directory / name, _duckdb_columns(name)) as out:
                if customer_ids is None:
                    dump_json_lines(store, name, out)
                    continue
                for batch in batched(customer_ids, EXPORT_BATCH):
                    for doc in store[name].find({"customer_id": {"$in": batch}}):
                        out.write(orjson.dumps(doc, default=str) + b"\n")
    finally:
        connection.close()
    if customer_ids is not None:
        (directory / TARGETS_FILE).write_bytes(b"".join(orjson.dumps({"customer_id": c}) + b"\n" for c in customer_ids))


class ParquetParts:
    """A binary file for JSON lines whose records come out as Parquet parts of `columns` in `folder`: DuckDB turns
    the lines into a part once they pass PARQUET_PART_BYTES, after a write that ends a line. A folder written no
    line still gets one part, empty, which holds the columns' types."""

    def __init__(self, connection, folder: Path, columns: str):
        self.connection, self.folder, self.columns = connection, folder, columns
        folder.mkdir(parents=True, exist_ok=True)
        self.lines = folder / ".lines.jsonl"  # Spark and DuckDB's glob pass over a name starting with a dot
        self.out = self.lines.open("wb")
        self.size = self.parts = 0

    def write(self, data: bytes) -> None:
        self.out.write(data)
        self.size += len(data)
        if self.size >= PARQUET_PART_BYTES and data.endswith(b"\n"):
            self._convert()
            self.out = self.lines.open("wb")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None and (self.size or not self.parts):
            self._convert()
        self.out.close()
        self.lines.unlink(missing_ok=True)

    def _convert(self) -> None:
        self.out.close()
        lines = _quoted(self.lines)
        part = _quoted(self.folder / f"part-{self.parts:05}.parquet")
        self.connection.execute(f"COPY (SELECT * FROM read_json({lines}, format = 'newline_delimited', "
                                f"columns = {self.columns})) TO {part} (FORMAT parquet, COMPRESSION zstd)")
        self.size, self.parts = 0, self.parts + 1


def engine_features(engine: str, directory: Path, as_of: date, product_names: dict[str, str],
                    spark_master: str | None = None) -> Iterator[dict]:
    """The feature documents of the customers exported to `directory`, computed by `engine`, in customer order."""
    months = month_keys(as_of)
    if engine == "duckdb":
        rows = _duckdb_rows(directory, months)
    elif engine == "spark":
        rows = _spark_rows(directory, months, spark_master)
    else:
        raise FeatureEngineError(f"unknown feature engine {engine!r}; use one of {', '.join(ENGINES[:2])}")
    customers, spend = rows
    for customer, totals in customer_aggregates(customers, spend, len(months)):
        yield feature_document(customer, totals, as_of, months, product_names)


# -- DuckDB ---------------------------------------------------------------------------------------------------------
def _duckdb_type(kind: str) -> str:
    if kind == "TRANSACTIONS":
        return "STRUCT(" + ", ".join(f'"{name}" {t}' for name, t in TRANSACTION_FIELDS.items()) + ")[]"
    return kind


def _duckdb_columns(name: str) -> str:
    return "{" + ", ".join(f"'{field}': '{_duckdb_type(kind)}'" for field, kind in EXPORTED[name].items()) + "}"


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _duckdb_read(directory: Path, name: str) -> str:
    return f"read_parquet({_quoted(directory / name / '*.parquet')})"


def _duckdb_rows(directory: Path, months: list[str]) -> tuple[Iterable[tuple], Iterable[tuple]]:
    import duckdb

    connection = duckdb.connect()
    spill = str(directory / "spill").replace("'", "''")
    connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'; SET temp_directory = '{spill}';"
                       " SET preserve_insertion_order = false")
    for name in ("customers", "accounts", "disclosures", "kyc_documents"):
        connection.execute(f"CREATE VIEW {name} AS SELECT * FROM {_duckdb_read(directory, name)}")
    fields = ", ".join(f"t.{field} AS {field}" for field in TRANSACTION_FIELDS)
    connection.execute(f"""CREATE VIEW transactions AS SELECT customer_id, month, {fields}
        FROM (SELECT customer_id, month, unnest(transactions) AS t FROM {_duckdb_read(directory, 'transactions')})""")
    targets = directory / TARGETS_FILE
    source = f"read_json('{targets}', columns = {{'customer_id': 'VARCHAR'}})" if targets.exists() else "customers"
    connection.execute(f"CREATE VIEW targets AS SELECT DISTINCT customer_id FROM {source}")
    connection.execute(f"CREATE TABLE monthly AS {monthly_query()}")
    return _fetched(connection.cursor(), customer_query(months)), _fetched(connection.cursor(), spend_query(months))


def _fetched(cursor, query: str, size: int = 10_000) -> Iterator[tuple]:
    cursor.execute(query)
    while rows := cursor.fetchmany(size):
        yield from rows


# -- Spark ----------------------------------------------------------------------------------------------------------
def _spark_type(kind: str) -> str:
    if kind == "TRANSACTIONS":
        fields = ", ".join(f"`{name}`: {_spark_type(t)}" for name, t in TRANSACTION_FIELDS.items())
        return f"ARRAY<STRUCT<{fields}>>"
    return {"VARCHAR": "STRING", "DOUBLE": "DOUBLE", "BIGINT": "BIGINT"}[kind]


def spark_session(master: str | None = None):
    """The Spark session features run on: the cluster `master` names, or the one spark-submit configured."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise FeatureEngineError("FARGO_FEATURE_ENGINE=spark needs PySpark: pip install 'fargo-ai[spark]'") from None
    # The driver's memory only applies when PySpark starts Spark itself (a local run); spark-submit sets its own.
    builder = (SparkSession.builder.appName("fargo-features").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", driver_memory()))
    if master:
        builder = builder.master(master)
    if master and master.startswith("local"):
        builder = builder.config("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def driver_memory() -> str:
    """The heap of a Spark that PySpark starts: Spark's own SPARK_DRIVER_MEMORY when the operator set it."""
    return os.environ.get("SPARK_DRIVER_MEMORY") or LOCAL_DRIVER_MEMORY


def local_partitions(customers: int) -> int:
    """Shuffle partitions for a local Spark: few, yet none with more customers' results than the driver holds."""
    return max(LOCAL_SHUFFLE_PARTITIONS, -(-customers // CUSTOMERS_PER_PARTITION))


def _spark_rows(directory: Path, months: list[str], master: str | None) -> tuple[Iterable[tuple], Iterable[tuple]]:
    from pyspark.sql import functions as F

    spark = spark_session(master)

    def read(name: str):
        schema = ", ".join(f"`{field}` {_spark_type(kind)}" for field, kind in EXPORTED[name].items())
        return spark.read.schema(schema).parquet(str(directory / name))

    for name in ("customers", "accounts", "disclosures", "kyc_documents"):
        read(name).createOrReplaceTempView(name)
    buckets = read("transactions").select("customer_id", "month", F.explode("transactions").alias("t"))
    buckets.select("customer_id", "month", *(F.col(f"t.{field}").alias(field) for field in TRANSACTION_FIELDS)) \
        .createOrReplaceTempView("transactions")
    targets = directory / TARGETS_FILE
    source = spark.read.schema("customer_id STRING").json(str(targets)) if targets.exists() else spark.table("customers")
    source.select("customer_id").distinct().createOrReplaceTempView("targets")
    if master and master.startswith("local"):
        spark.conf.set("spark.sql.shuffle.partitions", str(local_partitions(spark.table("targets").count())))
    monthly = spark.sql(monthly_query()).cache()
    monthly.count()  # computed once here, not by each of the two queries reading it at the same time
    monthly.createOrReplaceTempView("monthly")
    customers = (tuple(row) for row in spark.sql(customer_query(months)).toLocalIterator())
    spend = (tuple(row) for row in spark.sql(spend_query(months)).toLocalIterator())
    return customers, spend
