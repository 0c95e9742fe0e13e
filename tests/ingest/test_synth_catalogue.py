"""The demo catalogue's data files are read through the record models; a bad row is named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ingest.synth.catalogue import DATA_DIR, CatalogueError, read_records
from retrieval.records import Product


def _products_file(tmp_path: Path, second_row: bytes) -> Path:
    """A products file whose first and third rows are the shipped catalogue's, its second row `second_row`."""
    shipped = (DATA_DIR / "products.jsonl").read_bytes().splitlines(keepends=True)
    path = tmp_path / "products.jsonl"
    path.write_bytes(shipped[0] + second_row + b"\n" + shipped[2])
    return path


def _row(**changes) -> bytes:
    row = orjson.loads((DATA_DIR / "products.jsonl").read_bytes().splitlines()[1])
    for key, value in changes.items():
        if value is None:
            del row[key]
        else:
            row[key] = value
    return orjson.dumps(row)


@pytest.mark.parametrize(
    ("second_row", "field", "reason"),
    [
        (_row(category="boats"), "category", "Input should be"),
        (_row(name=None), "name", "Field required"),
        (_row(terms={"apr": 4.5}), "terms.apr", "less than or equal to 1"),
        (_row(nmae="Student Checking"), "nmae", "Extra inputs are not permitted"),
        (b'{"product_id": "P002",', "(line)", "not valid JSON"),
    ],
)
def test_a_bad_catalogue_row_is_reported_with_its_file_line_and_field(tmp_path, second_row, field, reason):
    path = _products_file(tmp_path, second_row)

    with pytest.raises(CatalogueError) as raised:
        read_records(path, Product)

    assert str(raised.value).startswith(f"{path}:2: {field}: ")
    assert reason in str(raised.value)

