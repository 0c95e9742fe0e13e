"""The campaign server and worker on a synthetic bank: events/s accepted (durably, over HTTP)
and events/s processed end to end, against raw embedding throughput on the same texts in the same run.

    .venv/bin/python -m bench.campaign --events 20000

1. Makes a synthetic bank and loads its customers, products and campaigns.
2. Serves `create_campaign_app` with uvicorn in a child process on loopback and posts the
   events in signed batches from several client threads: accepted events/s is every event
   written to the queue (WAL, synchronous=FULL) and answered 202, divided by the wall time.
3. Drains the queue with one `CampaignWorker`: processed events/s, and the ratio to plain
   `Embedder.embed` over the same texts in the same batches (goal >= 0.7).

Event texts are the synthetic bank's posts with a unique tail, so no text repeats (the worker
embeds a batch's distinct texts once; repeats would flatter it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

from assistant.campaign.queue import CampaignQueue
from assistant.campaign.server import sign
from assistant.campaign.worker import open_campaign_worker
from assistant.settings import Settings
from ingest.loader import load_directory
from ingest.synth import synthesize
from retrieval.docstore import open_store
from retrieval.embeddings import get_embedder

SOURCE, SECRET = "bench", "bench-secret"
LOADED_FILES = ("products.jsonl", "customers.jsonl", "campaigns.jsonl")
TAILS = ("today", "this week", "again", "honestly", "lol", "any advice?", "help", "so true", "for real", "!!")


def make_bank(root: Path, customers: int, seed: int) -> tuple[Settings, list[dict], list[dict]]:
    bank = root / "bank"
    synthesize(bank, customers=customers, seed=seed)
    subset = root / "subset"
    subset.mkdir()
    for name in LOADED_FILES:
        shutil.copy(bank / name, subset / name)
    settings = Settings(data_dir=root / "data", mongodb_uri=None)
    with open_store(settings) as store:
        store.ensure_indexes()
        load_directory(store, subset)
    templates = [orjson.loads(line) for line in (bank / "campaign_events.jsonl").read_bytes().splitlines()]
    people = [orjson.loads(line) for line in (bank / "customers.jsonl").read_bytes().splitlines()]
    return settings, templates, people


def bench_events(templates: list[dict], people: list[dict], count: int, seed: int) -> list[dict]:
    """Events shaped like the bank's, half by customers (any of them, by handle), half by strangers."""
    rng = random.Random(seed)
    events = []
    for number in range(count):
        event = dict(rng.choice(templates))
        event["event_id"] = f"B{number:08d}"
        event["customer_id"] = None
        if rng.random() < 0.5:
            handles = rng.choice(people)["social_handles"]
            event["author_handle"] = handles.get(event["platform"]) or f"stranger{number}"
        else:
            event["author_handle"] = f"stranger{number}"
        if event["text"]:
            event["text"] = f"{event['text']} {rng.choice(TAILS)} #{number}"
        events.append(event)
    return events


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(settings: Settings, port: int, queue_limit: int) -> None:
    import uvicorn

    from assistant.campaign.server import create_campaign_app

    app = create_campaign_app(settings, secrets={SOURCE: SECRET}, queue_limit=queue_limit)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def wait_for(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def post_all(base_url: str, events: list[dict], batch: int, senders: int) -> tuple[int, float]:
    bodies = [orjson.dumps({"events": events[i:i + batch]}) for i in range(0, len(events), batch)]

    def send(body: bytes, client: httpx.Client) -> int:
        headers = {"X-Fargo-Source": SOURCE, "X-Fargo-Signature": sign(SECRET, body),
                   "Content-Type": "application/json"}
        response = client.post(f"{base_url}/v1/campaign/events", content=body, headers=headers)
        response.raise_for_status()
        return response.json()["accepted"]

    with httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=senders)) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(senders) as pool:
            accepted = sum(pool.map(lambda body: send(body, client), bodies))
        return accepted, time.perf_counter() - start


def process_all(settings: Settings, batch_size: int) -> tuple[int, float, list[list[str]]]:
    """Drain the queue; returns (events, seconds, the distinct texts of each batch as embedded)."""
    batches: list[list[str]] = []
    with open_campaign_worker(settings, batch_size=batch_size, batch_window_s=0.0) as worker:
        embed = worker.embedder.embed

        def recording_embed(texts, *args, **kwargs):
            batches.append(list(texts))
            return embed(texts, *args, **kwargs)

        worker.embedder = type("Recording", (), {"embed": staticmethod(recording_embed)})()
        start = time.perf_counter()
        processed = worker.drain(exit_when_idle=True, poll_s=0.01)
        seconds = time.perf_counter() - start
        stages = ", ".join(f"{stage} {value:.1f} s" for stage, value in worker.stage_seconds.items())
        share = worker.stage_seconds.get("embed", 0.0) / seconds
        print(f"worker stages: {stages}; embedding is {share:.0%} of the wall time")
        return processed, seconds, batches


def raw_embedding_seconds(batches: list[list[str]]) -> float:
    embedder = get_embedder()
    start = time.perf_counter()
    for texts in batches:
        embedder.embed(texts)
    return time.perf_counter() - start


def bench_accept(settings: Settings, events: list[dict], request_batch: int, senders: int) -> None:
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(settings, port, len(events) + 1))
    server.start()
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        accepted, seconds = post_all(f"http://127.0.0.1:{port}", events, request_batch, senders)
    finally:
        server.terminate()
        server.join(timeout=10)
    with CampaignQueue.open(settings.data_dir) as queue:
        assert queue.counts()["pending"] == accepted == len(events), "not every event reached the queue"
    print(f"accepted: {accepted:,} events in {seconds:.2f} s = {accepted / seconds:,.0f} events/s "
          f"({request_batch} per request, {senders} senders, HTTP on loopback; goal >= 2,000)")


def bench_processing(settings: Settings, events: list[dict], batch_size: int) -> None:
    with CampaignQueue.open(settings.data_dir) as queue:
        for start in range(0, len(events), 500):
            queue.put_many(SOURCE, events[start:start + 500])
    get_embedder().embed(["warm up the model"])
    # Raw embedding is timed before the run (on the batches the worker will form) and after it (on the
    # texts it did embed, the catalogue's need statements included); their mean evens out load drift.
    expected = [sorted({e["text"] for e in events[i:i + batch_size] if e["text"]})
                for i in range(0, len(events), batch_size)]
    raw = [raw_embedding_seconds(expected)]
    processed, seconds, batches = process_all(settings, batch_size)
    raw.append(raw_embedding_seconds(batches))
    raw_seconds = sum(raw) / len(raw)
    embedded = sum(len(batch) for batch in batches)
    with open_store(settings) as store:
        leads = store["leads"].count_documents({})
    print(f"processed: {processed:,} events in {seconds:.2f} s = {processed / seconds:,.0f} events/s "
          f"(batches of {batch_size}; {leads:,} leads)")
    print(f"raw embedding of the same {embedded:,} texts in the same batches: {raw[0]:.2f} s before, "
          f"{raw[1]:.2f} s after = {processed / raw_seconds:,.0f} events/s")
    print(f"processing / embedding throughput: {raw_seconds / seconds:.2f} (goal >= 0.7)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=20_000, help="events posted to the server")
    parser.add_argument("--process-events", type=int, default=5_000, help="events the worker processes")
    parser.add_argument("--request-batch", type=int, default=200, help="events per POST")
    parser.add_argument("--senders", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--batch-size", type=int, default=256, help="worker batch size")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fargo-bench-campaign-") as tmp:
        settings, templates, people = make_bank(Path(tmp), args.customers, args.seed)
        events = bench_events(templates, people, args.events + args.process_events, args.seed)
        with_text = sum(1 for event in events[args.events:] if event["text"])
        print(f"bank: {args.customers:,} customers; {args.events:,} events to post, "
              f"{args.process_events:,} to process ({with_text:,} with text)")
        bench_accept(settings.model_copy(update={"data_dir": Path(tmp) / "accept"}), events[:args.events],
                     args.request_batch, args.senders)
        bench_processing(settings, events[args.events:], args.batch_size)


if __name__ == "__main__":
    main()
