"""Which lines of the source files the store already holds, so a nightly run reads only new or changed ones.

After every load of a source directory the 64-bit xxh3 hash of each line the store now
holds (every line but the rejected, erased and expired ones) is kept per file under
`DATA_DIR/loaded/`. A nightly run hashes each file's lines (C speed, about a second per
ten million lines) and hands the loader only the lines whose hash is not kept: a record
that is new or changed. An unchanged line was validated and loaded before, so reading it
again would change nothing. A line rejected before is read (and reported) again.

The kept hashes are tied to the store by a token in its `meta` collection: another store,
or one restored from a backup, does not match, and the next run reads every line. So does
a CSV file whose header changed, or whose changed lines hold a quoted line break.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xxhash

TOKEN_ID = "loaded_lines"
TOKEN_FILE = "token"
BLOCK = 1 << 24  # bytes hashed at a time


@dataclass
class FileLines:
    """One source file's lines: every line's hash, and the lines a previous load did not admit."""

    hashes: np.ndarray  # uint64, index = line number - 1
    new: list[tuple[int, bytes]] | None  # (line number, text) to load; None: read the whole file

    def kept(self, skipped: Iterable[int]) -> np.ndarray:
        """The sorted hashes of the lines the store holds after a load that skipped the `skipped` line numbers."""
        mask = np.ones(len(self.hashes), dtype=bool)
        mask[np.fromiter((line - 1 for line in skipped), dtype=np.int64)] = False
        kept = np.sort(self.hashes[mask])  # np.unique takes minutes on 10 million uint64 (numpy 2.4); a sort a second
        return kept[np.concatenate(([True], kept[1:] != kept[:-1]))] if len(kept) else kept


class LoadedLines:
    """The kept line hashes of one store's source files, in `directory`."""

    def __init__(self, store, directory: Path, *, use_previous: bool = True):
        self.store = store
        self.directory = Path(directory)
        self.valid = use_previous and self._token_matches()

    def _token_matches(self) -> bool:
        recorded = (self.store["meta"].find_one({"_id": TOKEN_ID}) or {}).get("token")
        token_file = self.directory / TOKEN_FILE
        return recorded is not None and token_file.is_file() and token_file.read_text() == recorded

    def _hash_file(self, file_name: str) -> Path:
        return self.directory / f"{file_name}.xxh3.npy"

    def previous(self, file_name: str) -> np.ndarray | None:
        path = self._hash_file(file_name)
        return np.load(path) if self.valid and path.is_file() else None

    def read(self, path: Path) -> FileLines:
        """Every line's hash, and the lines whose hash the previous load did not keep."""
        previous = self.previous(path.name)
        hashes: list[np.ndarray] = []
        new: list[tuple[int, bytes]] = []
        first_line = 1
        for lines in _line_blocks(path):
            block = np.fromiter(map(xxhash.xxh3_64_intdigest, lines), dtype=np.uint64, count=len(lines))
            hashes.append(block)
            if previous is not None:
                unseen = np.flatnonzero(~_contains(previous, block))
                new.extend((first_line + int(i), lines[i]) for i in unseen if lines[i].strip())
            first_line += len(lines)
        all_hashes = np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)
        if previous is None or (path.suffix == ".csv" and not _csv_lines_stand_alone(new)):
            return FileLines(all_hashes, None)
        return FileLines(all_hashes, new)

    def save(self, kept: dict[str, np.ndarray]) -> None:
        """Keep these hashes per file name (and no other file's), then tie them to the store by a new token."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / TOKEN_FILE).unlink(missing_ok=True)
        for stale in self.directory.glob("*.xxh3.npy"):
            stale.unlink()
        for file_name, hashes in kept.items():
            np.save(self._hash_file(file_name), hashes)
        token = uuid.uuid4().hex
        (self.directory / TOKEN_FILE).write_text(token)
        self.store["meta"].replace_one({"_id": TOKEN_ID}, {"_id": TOKEN_ID, "token": token}, upsert=True)


def _line_blocks(path: Path) -> Iterator[list[bytes]]:
    """The file's physical lines (without their line break), a block at a time."""
    rest = b""
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut:
                yield block[: cut - 1].split(b"\n")
            rest = block[cut:]
    if rest:
        yield [rest]


def _contains(sorted_hashes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per value, whether `sorted_hashes` holds it. The values are looked up in sorted order: searching 1.6 million
    random hashes among 11 million takes 3.3 s of CPU in their own order, 0.4 s sorted (memory locality)."""
    if not len(sorted_hashes):
        return np.zeros(len(values), dtype=bool)
    order = np.argsort(values)
    ordered = values[order]
    at = np.minimum(np.searchsorted(sorted_hashes, ordered), len(sorted_hashes) - 1)
    found = np.empty(len(values), dtype=bool)
    found[order] = sorted_hashes[at] == ordered
    return found


def _csv_lines_stand_alone(new: list[tuple[int, bytes]]) -> bool:
    """Whether every changed CSV line is a whole record: the header is unchanged and no quoted value spans lines."""
    return all(number > 1 and text.count(b'"') % 2 == 0 for number, text in new)
