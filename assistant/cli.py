"""The `fargo` command line: data, ingestion and the server."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Annotated

import typer
from click import Context
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from typer.core import TyperGroup

from assistant.customer_cli import customer_app
from assistant.encoder_cli import encoder_app
from assistant.settings import Settings, SettingsError, load_settings

STORE_FAILURE_EXIT = 3


class StoreFailuresExit3(TyperGroup):
    """Every command, however deep: a store that is unreachable or fails ends it with exit code 3 and one line
    naming the store, instead of a traceback."""

    def invoke(self, ctx: Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from assistant.outages import store_failure

            line = store_failure(exc)
            if line is None:
                raise
            raise fail(line, code=STORE_FAILURE_EXIT) from None


app = typer.Typer(help="Fargo AI: personalization engine for retail banks.", no_args_is_help=True,
                  cls=StoreFailuresExit3)
data_app = typer.Typer(help="Make, import and load source data.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (stored hashed).", no_args_is_help=True)
train_app = typer.Typer(help="Train Fargo's models.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate Fargo's models against data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(keys_app, name="keys")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(customer_app, name="customer")
app.add_typer(encoder_app, name="encoder")
DATASETS_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets"

console = Console(stderr=True)
MAX_REPORTED_REJECTIONS = 50


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise fail(str(exc)) from None


@contextmanager
def catalogue_context(settings: Settings, embedder):
    """The live bank's tool context (catalogue, indexes), or None when no ingestion run has completed."""
    from retrieval.docstore import open_store
    from retrieval.vectors import VectorIndexes
    from tools.context import NoLiveData, ToolContext

    store = open_store(settings)
    try:
        try:
            ctx = ToolContext.open(store, VectorIndexes.open(settings, embedder), embedder)
        except NoLiveData:
            ctx = None
        yield ctx
    finally:
        store.close()


def check_stores(settings: Settings, job_queue: bool = False) -> None:
    """A long-running command checks its stores once at start (a wrong address stops it at once with exit 3); once
    running, it rides out a store going away. `job_queue`: Redis too, when huey's queue is on it."""
    from retrieval.docstore import open_store

    open_store(settings).close()
    if job_queue and settings.redis_url is not None:
        from redis import Redis

        with Redis.from_url(settings.redis_url.get_secret_value(), socket_connect_timeout=2) as redis:
            redis.ping()


@contextmanager
def progress_bars() -> Iterator:
    """Yield a `progress(stage, done, total)` callback drawing one bar per stage."""
    tasks: dict[str, int] = {}
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield report


@data_app.command("synth")
def data_synth(
    customers: Annotated[int, typer.Option(min=1, max=2_000_000, help="How many customers to make.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 7,
    out: Annotated[Path, typer.Option(help="Directory to write the source files into.")] = Path("./demo-bank"),
) -> None:
    """Write a synthetic bank's source files (JSONL and CSV) into OUT."""
    from ingest.synth import synthesize

    with progress_bars() as progress:
        summary = synthesize(out, customers=customers, seed=seed, progress=progress)
    for name, count in summary.counts.items():
        typer.echo(f"{name:<28} {count:>10,}")
    typer.echo(f"wrote {sum(summary.counts.values()):,} records to {out}")


@data_app.command("load")
def data_load(
    directory: Annotated[Path, typer.Argument(help="Directory of source files (as written by `fargo data synth`).")],
) -> None:
    """Validate every record in DIRECTORY and upsert it into the document store.

    Bad records are reported with file, line, field and reason and skipped; re-running is idempotent.
    """
    settings = settings_or_exit()
    summary = run_load(settings, directory)
    print_load_summary(summary)


def run_load(settings: Settings, directory: Path):
    from assistant.dsr import pseudonym_key
    from assistant.retention import keep_since
    from ingest.loader import load_directory
    from ingest.sources import SourceFileError
    from retrieval.docstore import StoreError, open_store
    from retrieval.privacy import ErasureList

    try:
        with open_store(settings) as store, progress_bars() as progress:
            store.ensure_indexes()
            return load_directory(store, directory, progress=progress,
                                  erasures=ErasureList(store, pseudonym_key(settings)), keep_since=keep_since(settings))
    except SourceFileError as exc:
        raise fail(f"{exc}. Nothing was loaded; fix the file and run again.") from None
    except StoreError as exc:
        raise fail(f"document store: {exc}", code=3) from None


def print_load_summary(summary) -> None:
    for rejection in summary.rejections[:MAX_REPORTED_REJECTIONS]:
        typer.echo(f"rejected {rejection}", err=True)
    if len(summary.rejections) > MAX_REPORTED_REJECTIONS:
        typer.echo(f"... and {len(summary.rejections) - MAX_REPORTED_REJECTIONS} more rejected", err=True)
    typer.echo(f"{'file':<28} {'loaded':>10} {'updated':>10} {'unchanged':>10} {'rejected':>10}")
    for name, counts in summary.files.items():
        typer.echo(
            f"{name:<28} {counts.loaded:>10,} {counts.updated:>10,} {counts.unchanged:>10,} {counts.rejected:>10,}"
        )
    typer.echo(
        f"loaded {summary.total('loaded'):,}, updated {summary.total('updated'):,}, "
        f"rejected {summary.total('rejected'):,}"
    )


@data_app.command("import-berka")
def data_import_berka(
    source: Annotated[Path, typer.Argument(help="Folder with the Berka PKDD'99 tables (client.csv, account.csv, ...).")],
    out: Annotated[Path, typer.Option(help="Directory to write Fargo source files into.")] = Path("./berka-bank"),
    load: Annotated[bool, typer.Option(help="Also load the written files into the document store.")] = True,
) -> None:
    """Map the Berka PKDD'99 bank into Fargo's source files (and load them); say what does not map."""
    from ingest.berka import BerkaImportError, import_berka

    try:
        with progress_bars() as progress:
            report = import_berka(source, out, progress=progress)
    except BerkaImportError as exc:
        raise fail(str(exc)) from None
    for name, count in report.written.items():
        typer.echo(f"wrote {name:<28} {count:>8,}")
    for line in report.unmapped:
        typer.echo(f"not mapped: {line}")
    for bad in report.rejected:
        typer.echo(f"rejected {bad}", err=True)
    if load:
        print_load_summary(run_load(settings_or_exit(), out))


@app.command("ingest")
def ingest(
    full: Annotated[bool, typer.Option("--full/--incremental", help="Recompute everything, or only what changed.")] = True,
) -> None:
    """Run the ingestion job now: load -> features -> indexes -> graph, then switch the service over."""
    from assistant.worker import run_ingest_now
    from ingest.jobs import IngestError
    from retrieval.docstore import StoreError

    settings = settings_or_exit()
    try:
        with progress_bars() as progress:
            run = run_ingest_now(settings, mode="full" if full else "incremental", progress=progress)
    except IngestError as exc:
        raise fail(f"{exc}. The previous version keeps serving.", code=1) from None
    except StoreError as exc:
        raise fail(f"document store: {exc}", code=3) from None
    typer.echo(f"run {run.run_id} ({run.mode}) {run.status}")
    for name, stats in run.stages.items():
        typer.echo(f"  {name:<10} {stats.count:>10,} items {stats.seconds:>8.1f} s {stats.rate:>10,.0f}/s")


@app.command("jobs")
def jobs(limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs to list.")] = 20) -> None:
    """List recent ingestion runs, newest first."""
    from ingest.jobs import list_runs
    from retrieval.docstore import open_store

    with open_store(settings_or_exit()) as store:
        runs = list_runs(store, limit)
    if not runs:
        typer.echo("no ingestion runs yet; run `fargo ingest`")
    for run in runs:
        stages = ", ".join(f"{name} {stage['count']:,}" for name, stage in run["stages"].items())
        typer.echo(f"{run['_id']}  {run['mode']:<11} {run['status']:<9} {run['started_at']}  {stages}")
        for error in run["errors"][:3]:
            typer.echo(f"    {error}")


@app.command("worker")
def worker(workers: Annotated[int, typer.Option(min=1, max=32, help="Worker threads.")] = 1) -> None:
    """Run the job consumer: scheduled ingestion (FARGO_INGEST_CRON) and queued tasks."""
    from assistant.worker import make_huey, start_consumer

    settings = settings_or_exit()
    check_stores(settings, job_queue=True)
    typer.echo(f"worker: nightly ingestion at cron '{settings.ingest_cron}', campaign events every minute")
    start_consumer(make_huey(settings), workers=workers).run()


@app.command("campaign-server")
def campaign_server(
    host: Annotated[str | None, typer.Option(help="Bind address (default FARGO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default FARGO_CAMPAIGN_PORT).")] = None,
) -> None:
    """Serve POST /v1/campaign/events (HMAC-signed batches, durable queue) and the agents' lead endpoints."""
    from assistant.campaign.server import serve_campaign

    settings = settings_or_exit()
    check_stores(settings)
    serve_campaign(settings, host=host, port=port)


@app.command("campaign-worker")
def campaign_worker() -> None:
    """Process queued campaign events in batches into outreach leads (stops after the batch on Ctrl-C)."""
    from assistant.campaign.worker import run_campaign_worker

    settings = settings_or_exit()
    check_stores(settings)
    run_campaign_worker(settings)


@eval_app.command("recommend")
def eval_recommend(
    dataset: Annotated[str, typer.Option(help="synthetic (hold-out of the latest product) or berka (targeting).")] = "synthetic",
    customers: Annotated[int, typer.Option(min=100, help="Size of the synthetic evaluation bank.")] = 2000,
    holdouts: Annotated[int, typer.Option(min=10, help="Hold-out customers on the synthetic bank.")] = 400,
    seed: Annotated[int, typer.Option(help="Seed of the bank and the split.")] = 7,
    data_root: Annotated[Path, typer.Option(help="Folder holding the public datasets.")] = DATASETS_ROOT,
) -> None:
    """Evaluate the recommendation tools against popularity and random baselines (embedded stores in a temp dir)."""
    from assistant.evaluation import (
        evaluate_berka,
        evaluate_recommendations,
        format_report,
    )

    if dataset == "synthetic":
        report = evaluate_recommendations(settings_or_exit(), customers=customers, holdouts=holdouts, seed=seed,
                                          progress=typer.echo)
    elif dataset == "berka":
        if not (data_root / "berka_pkdd99").is_dir():
            raise fail(f"{data_root / 'berka_pkdd99'} not found; pass --data-root pointing at the datasets folder")
        report = evaluate_berka(data_root / "berka_pkdd99", seed=seed)
    else:
        raise fail(f"--dataset must be synthetic or berka, not {dataset!r}")
    typer.echo(format_report(report))


@train_app.command("intents")
def train_intents_command(
    data: Annotated[Path | None, typer.Option(help="CSV or JSONL of (text, label); default: Fargo's shipped set.")] = None,
    finetune_epochs: Annotated[int, typer.Option(min=0, help="Fine-tune the encoder this many epochs first (0: the "
                                                      "frozen, shared embedding; fine-tuned models embed each turn "
                                                      "again).")] = 0,
) -> None:
    """Train the intent classifier and save it, versioned, under the data dir."""
    from assistant.intents import (
        TrainingDataError,
        load_examples,
        save_model,
        train_default,
    )
    from assistant.intents.finetune import FinetuneConfig
    from assistant.runtime import shipped_intents_path
    from retrieval.embeddings import get_embedder

    settings = settings_or_exit()
    try:
        examples = load_examples(data or shipped_intents_path())
    except TrainingDataError as exc:
        raise fail(f"{exc}\nFix those rows and run again.") from None
    finetune = FinetuneConfig(epochs=finetune_epochs) if finetune_epochs > 0 else None
    classifier = train_default(get_embedder(), data or shipped_intents_path(), finetune=finetune, progress=typer.echo)
    path = save_model(classifier, settings.data_dir)
    metrics = classifier.metadata["metrics"]
    trained = classifier.metadata["examples"]
    kept_aside = f" ({len(examples) - trained:,} more held out)" if trained < len(examples) else ""
    typer.echo(f"trained on {trained:,} examples{kept_aside}, {len(classifier.metadata['labels'])} intents -> {path}")
    typer.echo("held-out (" + str(metrics.get("source")) + "): "
               + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)))


@eval_app.command("intents")
def eval_intents_command(
    dataset: Annotated[str, typer.Option(help="banking77 or clinc150.")] = "banking77",
    data_root: Annotated[Path, typer.Option(help="Folder holding the public datasets.")] = DATASETS_ROOT,
    finetune_epochs: Annotated[int, typer.Option(min=0, help="Fine-tune the encoder this many epochs first "
                                                             "(0: frozen).")] = 0,
    encoder: Annotated[list[str] | None, typer.Option(help="Encoder to evaluate (minilm, mpnet or a folder); "
                                                           "repeat it to compare; default: FARGO_ENCODER.")] = None,
    ensemble: Annotated[bool, typer.Option(help="Average each encoder's frozen head with a MiniLM fine-tuned "
                                                "--finetune-epochs epochs (3 if not given) at the same time, weight "
                                                "and threshold chosen on validation (clinc150).")] = False,
) -> None:
    """Train on a public benchmark's train split and report its test figures and the training time."""
    from assistant.intents.benchmarks import evaluate, side_by_side
    from assistant.intents.finetune import FinetuneConfig
    from retrieval.embeddings import get_embedder
    from retrieval.encoders import EncoderError

    if dataset not in ("banking77", "clinc150"):
        raise fail(f"--dataset must be banking77 or clinc150, not {dataset!r}")
    if not (data_root / dataset).is_dir():
        raise fail(f"{data_root / dataset} not found; pass --data-root pointing at the datasets folder")
    if ensemble and dataset != "clinc150":
        raise fail("--ensemble chooses its weight on a validation split: only clinc150 has one")
    settings = settings_or_exit()
    if ensemble and finetune_epochs == 0:
        finetune_epochs = FinetuneConfig().epochs
    finetune = FinetuneConfig(epochs=finetune_epochs) if finetune_epochs > 0 else None
    results = []
    for name in encoder or [settings.encoder]:
        try:
            embedder = get_embedder(name)
        except EncoderError as exc:
            raise fail(f"--encoder {name}: {exc}") from None
        result = evaluate(dataset, data_root, embedder=embedder, cache_dir=settings.data_dir / "cache" / "embeddings",
                          finetune=finetune, ensemble=ensemble, progress=typer.echo)
        for key, value in result.items():
            typer.echo(f"{key:<28} {value:.4f}" if isinstance(value, float) else f"{key:<28} {value}")
        results.append(result)
    if len(results) > 1:
        typer.echo(side_by_side(results))


@eval_app.command("disputes")
def eval_disputes_command(
    data: Annotated[Path | None, typer.Option(help="JSONL of {text, kind: fraud|dispute|complaint|question}; "
                                                   "default: the shipped held-out split.")] = None,
    failures: Annotated[bool, typer.Option(help="Also print each message routed the wrong way.")] = False,
) -> None:
    """Recall of disputes and complaints (routed to a person as such) and false hand-offs of ordinary questions."""
    from assistant.dispute_eval import (
        DISPUTES_PATH,
        DisputeCaseError,
        format_report,
        load_cases,
        report,
        route,
    )
    from assistant.intents import current_model
    from retrieval.embeddings import get_embedder

    path = data or DISPUTES_PATH
    if not path.is_file():
        raise fail(f"{path} not found; pass --data pointing at a JSONL file of text and kind")
    try:
        cases = load_cases(path)
    except DisputeCaseError as error:
        raise fail(f"{error}\nFix those lines and run again.") from None
    settings = settings_or_exit()
    check_stores(settings)  # before the encoder loads: a store it cannot reach fails at once
    embedder = get_embedder()
    with catalogue_context(settings, embedder) as ctx:  # routes as the engine does when a bank is loaded
        figures = report(route(current_model(settings.data_dir, embedder), embedder, cases, ctx))
    if ctx is None:
        typer.echo("(no bank loaded: routed without the catalogue; run `fargo ingest` to route as the engine does)",
                   err=True)
    typer.echo(format_report(figures))
    if failures:
        for case in figures["failures"]:
            typer.echo(json.dumps({"text": case.text, "kind": case.kind, "routed": case.intent,
                                   "handoff_kind": case.handoff_kind}))


@eval_app.command("requests")
def eval_requests_command(
    split: Annotated[str, typer.Option(help="dev, test or all.")] = "test",
    reuse: Annotated[bool, typer.Option(help="Run on the bank in FARGO_DATA_DIR (ingested on first use) instead "
                                             "of a fresh demo bank in a temporary folder.")] = False,
    failures: Annotated[bool, typer.Option(help="Also print each case that failed a check.")] = False,
) -> None:
    """Replay the shipped labelled requests through the engine and report whether the answers fit them."""
    from assistant.request_eval import (
        CaseError,
        evaluate_on_demo_bank,
        format_report,
        eval_settings,
    )

    if split not in ("dev", "test", "all"):
        raise fail(f"--split must be dev, test or all, not {split!r}")
    with eval_settings(settings_or_exit(), reuse) as settings:
        try:
            report = evaluate_on_demo_bank(settings, split, progress=typer.echo)
        except CaseError as error:
            raise fail(str(error)) from error
    typer.echo(format_report(report))
    if failures:
        for failure in report["failures"]:
            typer.echo(json.dumps(failure))


@eval_app.command("fairness")
def eval_fairness_command(
    reuse: Annotated[bool, typer.Option(help="Run on the bank in FARGO_DATA_DIR (ingested on first use) instead "
                                             "of a fresh demo bank in a temporary folder.")] = False,
    k: Annotated[int, typer.Option(min=1, max=20, help="How many offers per customer count as offered.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Offer rates per product across gender, age band and marital status; ratios below 0.8 flagged with drivers."""
    from assistant.fairness import evaluate_on_demo_bank, format_report
    from assistant.request_eval import eval_settings

    # the demo bank's first-run lines must not mix into the JSON
    with eval_settings(settings_or_exit(), reuse) as settings, redirect_stdout(sys.stderr):
        report = evaluate_on_demo_bank(settings, k, progress=typer.echo)
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@eval_app.command("adaptive")
def eval_adaptive_command(
    customers: Annotated[int, typer.Option(min=10, max=100_000, help="Simulated customers per seed.")] = 300,
    rounds: Annotated[int, typer.Option(min=1, max=100, help="Rounds of offers.")] = 10,
    k: Annotated[int, typer.Option(min=1, max=10, help="Offers shown per customer per round.")] = 3,
    seed: Annotated[list[int] | None, typer.Option(help="A seed; repeat for several (default 1 2 3).")] = None,
    reuse: Annotated[bool, typer.Option(help="Run on the bank in FARGO_DATA_DIR (ingested on first use) instead "
                                             "of a fresh demo bank in a temporary folder.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Simulate customers taking up offers by their hidden needs: adaptive vs static vs random ranking."""
    from assistant.adaptive_eval import evaluate, format_report
    from assistant.request_eval import demo_runtime, eval_settings

    with eval_settings(settings_or_exit(), reuse) as settings, redirect_stdout(sys.stderr), \
            demo_runtime(settings, typer.echo) as runtime:
        try:
            report = evaluate(runtime.ctx, settings.resolved_source_dir, customers, rounds, k, seed or [1, 2, 3],
                              progress=typer.echo)
        except FileNotFoundError as missing:
            raise fail(f"{missing}; run it on the synthetic demo bank (without --reuse)") from None
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="developer, agent, supervisor or admin.")],
    name: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
) -> None:
    """Create an API key; its plaintext is printed once and stored only as a hash."""
    from assistant.auth import create_key
    from assistant.callers import KEY_ROLES
    from retrieval.docstore import open_store

    if role not in KEY_ROLES:
        raise fail(f"--role must be {', '.join(KEY_ROLES[:-1])} or {KEY_ROLES[-1]}, not {role!r}")
    with open_store(settings_or_exit()) as store:
        try:
            plaintext, record = create_key(store, role, name)
        except ValueError as refused:
            raise fail(f"--{refused}") from None
    typer.echo(f"{role} key (shown once, keep it secret): {plaintext}")
    typer.echo(f"key id: {record['_id'][:12]}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id or its first 8+ characters.")]) -> None:
    """Revoke an API key: it stops working at once."""
    from assistant.auth import KeyNotFound, revoke_key
    from retrieval.docstore import open_store

    with open_store(settings_or_exit()) as store:
        try:
            record = revoke_key(store, key_id)
        except KeyNotFound as exc:
            raise fail(str(exc)) from None
    typer.echo(f"revoked {record['role']} key {record['_id'][:12]} ({record.get('name') or 'unnamed'})")


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (ids and roles, never the keys themselves)."""
    from assistant.auth import list_keys
    from retrieval.docstore import open_store

    with open_store(settings_or_exit()) as store:
        for record in list_keys(store):
            state = "revoked" if record.get("revoked") else "active"
            typer.echo(f"{record['_id'][:12]}  {record['role']:<10} {state:<8} {record.get('name', '')}")


@app.command("up")
def up(
    host: Annotated[str | None, typer.Option(help="Bind address (default FARGO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default FARGO_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes on the one port; more than 1 needs "
                                                              "FARGO_REDIS_URL and FARGO_CHROMA_URL.")] = 1,
) -> None:
    """Run Fargo: on first run make and load a demo bank, then serve the HTTP API."""
    import uvicorn

    from assistant.api.app import create_app
    from assistant.api.http_limits import server_options

    settings = settings_or_exit()
    if workers > 1:
        check_replicas(settings, workers)
    overrides = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    settings = settings.model_copy(update=overrides)
    from assistant.worker import make_huey, run_ingest_now, start_background_consumer

    ensure_demo_bank(settings)
    if needs_first_ingest(settings):
        with progress_bars() as progress:
            run_ingest_now(settings, mode="full", progress=progress)
    from assistant.api.observability import configure_json_logging

    print_demo_credentials(settings)
    consumer = start_background_consumer(make_huey(settings))
    configure_json_logging()
    base = f"http://{settings.host}:{settings.port}"
    typer.echo(f"Fargo is serving on {base} (health: /healthz, docs: /docs, agent console: /console)")
    if settings.demo_mode:
        typer.echo(f"demo bank homepage with the chat widget: {base}/demo")
    app_or_factory = create_app(settings) if workers == 1 else "assistant.api.app:from_environment"
    if workers > 1:
        train_intents_once(settings)
        metrics_dir = shared_metrics_dir(settings)
        typer.echo(f"{workers} API processes; /metrics sums them (PROMETHEUS_MULTIPROC_DIR={metrics_dir})")
    try:
        uvicorn.run(app_or_factory, factory=workers > 1, workers=workers, host=settings.host, port=settings.port,
                    log_level="info", **server_options(settings))
    finally:
        consumer.stop(graceful=True)


def check_replicas(settings: Settings, workers: int) -> None:
    """Several API processes need limits they share (Redis) and a vector store several processes may open."""
    missing = [name for name, value in (("FARGO_REDIS_URL", settings.redis_url), ("FARGO_CHROMA_URL",
                                                                                 settings.chroma_url)) if value is None]
    if missing:
        raise fail(f"--workers {workers} needs {' and '.join(missing)}: without Redis each process would keep its "
                   "own rate limits, and the embedded Chroma is for one process; set them or use --workers 1")


def train_intents_once(settings: Settings) -> None:
    """The intent model the API processes load, trained here when missing or outdated: once, not by every process
    at the same time into the same folder."""
    from assistant.runtime import intent_classifier
    from retrieval.embeddings import get_embedder

    intent_classifier(settings, get_embedder(settings.encoder))


def shared_metrics_dir(settings: Settings) -> Path:
    """PROMETHEUS_MULTIPROC_DIR for the API processes (default: under the data dir), emptied of an earlier run's
    files; set before the processes start, so each writes its metrics there."""
    import os

    from assistant.api.observability import MULTIPROCESS_DIR

    directory = Path(os.environ.get(MULTIPROCESS_DIR) or settings.data_dir / "prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIR] = str(directory)
    return directory


def ensure_demo_bank(settings: Settings) -> None:
    """In demo mode, write the synthetic demo bank's source files once (ingestion loads them)."""
    from ingest.synth import synthesize

    bank_dir = settings.resolved_source_dir
    if not settings.demo_mode or bank_dir is None or (bank_dir / "manifest.json").is_file():
        return
    typer.echo(f"First run: making a demo bank of {settings.demo_customers} customers in {bank_dir}")
    with progress_bars() as progress:
        synthesize(bank_dir, customers=settings.demo_customers, seed=settings.demo_seed, progress=progress)


def print_demo_credentials(settings: Settings) -> None:
    """Demo mode only: a demo agent key and a widget token for the demo customer."""
    from assistant.auth import ensure_demo_credentials
    from retrieval.docstore import open_store

    if not settings.demo_mode:
        return
    with open_store(settings) as store:
        agent_key, widget_token = ensure_demo_credentials(store, settings)
    typer.echo(f"demo agent key:    {agent_key}")
    typer.echo(f"demo widget token: {widget_token} (one hour)")


def needs_first_ingest(settings: Settings) -> bool:
    """No run is live, or the live one is from a release that kept its graph in a file, not in the store."""
    from retrieval.docstore import live_pointer, open_store
    from retrieval.neighbourhoods import graph_names

    with open_store(settings) as store:
        pointer = live_pointer(store)
        return pointer is None or pointer.get("graph_file") not in graph_names(store)


def main() -> None:  # pragma: no cover - console entry point
    app()
