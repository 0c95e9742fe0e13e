"""`fargo customer export|erase`: data-subject requests from the command line (the operator is audited)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.callers import Caller, Role

customer_app = typer.Typer(help="Data-subject requests: export or erase one customer.", no_args_is_help=True)


def operator() -> Caller:
    """The person at the terminal, as the audit log names them."""
    return Caller(role=Role.admin, key_id=f"cli:{getpass.getuser()}")


@customer_app.command("export")
def export(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    out: Annotated[Path | None, typer.Option(help="Write the JSON here instead of standard output.")] = None,
) -> None:
    """Write everything Fargo holds about a customer as one JSON document."""
    from assistant import audit
    from assistant.cli import fail, settings_or_exit
    from assistant.consents import CustomerNotFound
    from assistant.dsr import export_customer
    from retrieval.docstore import StoreError, open_store

    try:
        with open_store(settings_or_exit()) as store:
            exported = export_customer(store, customer_id)
            audit.record(store, operator(), customer_id, "export", allowed=True)
    except CustomerNotFound as exc:
        raise fail(f"{exc}: check the id") from None
    except StoreError as exc:
        raise fail(f"document store: {exc}", code=3) from None
    text = json.dumps(exported, indent=2, ensure_ascii=False)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    typer.echo(f"wrote {sum(len(v) if isinstance(v, list) else 1 for v in exported['data'].values()):,} records "
               f"about {customer_id} to {out}")


@customer_app.command("erase")
def erase(
    customer_id: Annotated[str, typer.Argument(help="The customer's id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: the erasure cannot be undone.")] = False,
) -> None:
    """Erase a customer from every store (audit entries kept under a pseudonym); later ingestion runs skip them."""
    from assistant import dsr
    from assistant.cli import fail, settings_or_exit
    from assistant.consents import CustomerNotFound
    from retrieval.docstore import StoreError, open_store
    from retrieval.privacy import PseudonymKeyMissing

    if not yes:
        raise fail("erasure cannot be undone: run again with --yes to erase " + customer_id)
    settings = settings_or_exit()
    try:
        with open_store(settings) as store:
            report = dsr.erase(settings, store, operator(), customer_id)
    except (CustomerNotFound, PseudonymKeyMissing) as exc:
        raise fail(str(exc)) from None
    except StoreError as exc:
        raise fail(f"document store: {exc}", code=3) from None
    deleted = ", ".join(f"{name} {count:,}" for name, count in report.deleted.items() if count)
    typer.echo(f"erased {customer_id}, now {report.customer} in the audit log")
    typer.echo(f"deleted: {deleted}; campaign vectors {report.vectors_deleted:,}; graph nodes "
               f"{report.graph_nodes_removed:,}; audit entries pseudonymised {report.audit_pseudonymised:,}")
