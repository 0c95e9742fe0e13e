"""Labelled intent examples: reading and checking `text,label` training files.

Fargo ships its own set (`TRAINING_DATA_PATH`); a bank may train on its own
CSV or JSONL file in the same format.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

TRAINING_DATA_PATH = Path(__file__).resolve().parent / "data" / "intents.jsonl"
MAX_REPORTED_PROBLEMS = 20

class TrainingDataError(ValueError):
    """A training file has rows Fargo cannot learn from; `problems` holds (line, reason) pairs."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = problems
        shown = [f"  line {line}: {reason}" for line, reason in problems[:MAX_REPORTED_PROBLEMS]]
        more = len(problems) - MAX_REPORTED_PROBLEMS
        if more > 0:
            shown.append(f"  ... and {more} more")
        super().__init__(f"{source}: {len(problems)} bad training row(s)\n" + "\n".join(shown))

class _Row(NamedTuple):
    line: int
    text: object
    label: object


Problems = list[tuple[int, str]]


def load_examples(path: str | Path) -> list[tuple[str, str]]:
    """(text, label) pairs from a `.csv` (header with `text` and `label`) or `.jsonl` file.

    Every bad row is collected and reported at once, with its line number, in a
    `TrainingDataError`: a model trained on silently skipped rows is worse than no model.
    """
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(str(path), [(0, "file not found")])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, problems = _csv_rows(path)
    elif suffix in (".jsonl", ".ndjson"):
        rows, problems = _jsonl_rows(path)
    else:
        raise TrainingDataError(str(path), [(0, f"unknown file type {suffix!r}: use .csv or .jsonl")])
    examples, row_problems = validate_rows(rows)
    problems = sorted(problems + row_problems)
    if problems:
        raise TrainingDataError(str(path), problems)
    return examples


def _csv_rows(path: Path) -> tuple[list[_Row], Problems]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"text", "label"} - set(reader.fieldnames or ())
        if missing:
            return [], [(1, f"header lacks column(s) {', '.join(sorted(missing))}")]
        # line_num is the reader's position after the record: its last physical line.
        return [_Row(reader.line_num, record.get("text"), record.get("label")) for record in reader], []


def _jsonl_rows(path: Path) -> tuple[list[_Row], Problems]:
    rows: list[_Row] = []
    problems: Problems = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append((number, f"not valid JSON ({exc.msg})"))
                continue
            if not isinstance(record, dict):
                problems.append((number, "not a JSON object"))
                continue
            rows.append(_Row(number, record.get("text"), record.get("label")))
    return rows, problems


def validate_rows(rows: Iterable[_Row]) -> tuple[list[tuple[str, str]], Problems]:
    """Split parsed rows into clean (text, label) examples and (line, reason) problems."""
    examples: list[tuple[str, str]] = []
    problems: Problems = []
    label_of: dict[str, tuple[str, int]] = {}
    for line, text, label in rows:
        reason = _row_problem(text, label)
        if reason is None:
            text, label = " ".join(text.split()), label.strip()
            earlier = label_of.get(text.lower())
            if earlier is not None and earlier[0] != label:
                reason = f"same text as line {earlier[1]} but label {label!r} instead of {earlier[0]!r}"
        if reason is not None:
            problems.append((line, reason))
            continue
        label_of.setdefault(text.lower(), (label, line))
        examples.append((text, label))
    if not problems and len({label for _, label in examples}) < 2:
        problems.append((0, "training needs at least two different labels"))
    return examples, problems


def _row_problem(text: object, label: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "missing or empty text"
    if not isinstance(label, str) or not label.strip():
        return "missing or empty label"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", label.strip()):
        return f"label {label.strip()!r} has characters other than letters, digits and _.:-"
    return None


def data_hash(examples: Iterable[tuple[str, str]]) -> str:
    """A fingerprint of the training data that ignores row order."""
    digest = hashlib.sha256()
    for text, label in sorted(examples):
        digest.update(f"{label}\t{text}\n".encode())
    return "sha256:" + digest.hexdigest()
