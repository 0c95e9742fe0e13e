"""Chat turns per second over HTTP on loopback, against the same server's /healthz in the same run (the ceiling).

    .venv/bin/python -m bench.chat_load --customers 2000 --seconds 20 --clients 16

Synthesizes and ingests a bank in a temp dir (embedded defaults: NeoSQLite and
embedded Chroma; `--bank-dir` keeps it for the next run), serves the app with
uvicorn in a subprocess on 127.0.0.1 (rate limit raised out of the way), mints
widget tokens for `--talking` customers and makes an agent key. Then
`--clients` concurrent httpx clients post conversations to `POST /v1/chat`
for `--seconds`, each conversation with the next customer in turn (one in four
through the agent key, for that customer). The conversations are drawn, seeded
(`--seed`), from a large pool: opening questions from Fargo's labelled intent
examples (recommendations, family, healthcare, product questions) and from
templates with varied slots (sums of money, relatives, product categories,
cities, spending, periods), sometimes after a greeting, then up to three
follow-ups ("why?", "tell me more about the second one", "anything cheaper?",
"what about for my dad?", each phrased several ways) in the same session and
sometimes thanks or goodbye. The first conversations, the warm-up and the
measured run each have their own. Prints how many distinct messages were sent
and, from the server's /metrics, the share of turns whose message vector came
from the embedding cache, from the model, or was not needed. After the
measured run, the same clients hit `/healthz` for as long. Prints requests/s,
p50/p95/p99 latency, errors and the server's CPU time per request for both, and
the ratio. Goal: >= 200 turns/s, 0 errors, p95 <= 100 ms.

`--replicas` measures replicas instead: the bank is ingested into a Chroma server (`chroma run`, started here
with a Redis), then the same chat load runs against one API process on it and against two sharing the Redis
(rate limits, embedding counts) and a Prometheus multiprocess directory, the clients split between the two;
turns/s, p95 and server CPU of each, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from assistant.api.observability import COUNTS_FLUSH_S, MULTIPROCESS_DIR
from assistant.auth import create_key
from assistant.settings import Settings
from bench.servers import chroma_server, free_port, redis_server
from retrieval.docstore import open_store

FIRST_CONVERSATIONS = 24
AGENT_EVERY = 4  # one conversation in four is an agent's, acting for the customer
SERVER_START_TIMEOUT_S = 600.0  # until /readyz: the engine warm, slow on a busy machine
REQUESTS_PER_MINUTE = 10_000_000


@dataclass
class Identity:
    headers: dict[str, str]
    customer_id: str | None = None  # set for an agent: the customer it acts for


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    messages: set[str] = field(default_factory=set)  # distinct messages sent
    embeddings: dict[str, float] = field(default_factory=dict)  # the server's message vectors by source, this run

    def record(self, started: float, ok: bool) -> None:
        if ok:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            self.errors += 1

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))] if ordered else float("nan")


# -- the traffic -------------------------------------------------------------------------------------------------------

# Opening questions come from Fargo's labelled intent examples (the customer-facing, in-scope intents; an example
# naming a customer id is left out: a customer may not ask about another and an agent's would switch customer) and
# from templates with varied slots; follow-ups refer back to the answer in the same session.
OPENING_INTENTS = ("personal_recommendation", "family_recommendation", "healthcare", "product_question")
SMALL_TALK = {"opening": ("greeting",), "closing": ("thanks", "goodbye")}
RELATIVES = ("wife", "husband", "partner", "son", "daughter", "kids", "mom", "dad", "parents", "brother", "sister",
             "baby", "teenager", "fiancee", "stepson", "mother", "father")
CATEGORIES = ("credit card", "travel card", "cash back card", "rewards card", "savings account", "CD", "mortgage",
              "home equity line of credit", "HELOC", "personal loan", "car loan", "student loan", "retirement account",
              "Roth IRA", "529 plan", "brokerage account", "life insurance", "health insurance", "dental plan",
              "checking account", "money market account", "HSA", "debit card", "auto loan")
CITIES = ("Atlanta", "Austin", "Boston", "Charlotte", "Chicago", "Columbus", "Dallas", "Denver", "Houston",
          "Los Angeles", "Miami", "Minneapolis", "Nashville", "New York", "Philadelphia", "Phoenix", "Portland",
          "San Antonio", "San Diego", "Seattle")
SPENDING = ("groceries", "gas", "travel", "restaurants", "online shopping", "streaming", "utilities", "flights",
            "hotels", "childcare", "pet care", "home improvement")
CARE = ("knee surgery", "dental work", "braces", "physical therapy", "a hip replacement", "eye surgery",
        "hearing aids", "maternity care", "therapy sessions", "a root canal")
PERIODS = ("next year", "in 6 months", "within two years", "in 3 years", "over the next 5 years", "next month",
           "in 18 months", "within a year")
TEMPLATES = (
    "I have {amount} sitting in checking, where should I put it?",
    "what {category} would suit me?",
    "I want to save {amount} {period}, what account should I open?",
    "is a {category} right for me?",
    "I'm moving to {city} {period}, which {category} would you recommend?",
    "I spend about {monthly} on {spending}, which card pays me back for that?",
    "which {category} fits someone like me?",
    "what could help my {relative}?",
    "my {relative} is {age}, what should we open for them?",
    "we want to put {amount} aside for my {relative}, what do you suggest?",
    "is there a {category} for my {relative}?",
    "my {relative} needs {care}, any health plans that would help?",
    "I expect about {amount} in medical bills {period}, what can help?",
    "are there partner clinics in {city}?",
    "how do I pay for {care} {period}?",
    "what is the annual fee on the {category}?",
    "what's the interest rate on a {category}?",
    "how does a {category} work?",
    "can I open a {category} with {amount}?",
    "what is the minimum deposit for a {category}?",
    "is there a penalty for closing a {category} early?",
    "I earn {yearly} a year, what should I do with my savings?",
    "I need to borrow {amount} {period}, what are my options?",
    "what card is best for {spending}?",
)
FOLLOW_UPS = {
    "why": ("why?", "why that one?", "how come?", "explain", "why those?", "what makes them a good fit?", "reasons?",
            "why this one?"),
    "details": ("tell me more about the {ordinal} one", "more details on option {number}", "what is the {ordinal} one?",
                "tell me more about number {number}", "more about the last one", "tell me more about the {ordinal} one"),
    "cheaper": ("anything cheaper?", "any options with no annual fee?", "something less expensive?",
                "is there a cheaper one?", "anything more affordable?", "any with lower fees?"),
    "relative": ("what about for my {relative}?", "and for my {relative}?", "how about my {relative}?",
                 "ok, what about my {relative}?"),
}
ORDINAL_WORDS = ("first", "second", "third")
LEADS = ("", "", "", "hi, ", "ok so ", "quick question: ", "hey, ", "one more thing, ", "sorry, ", "so ")
TAILS = ("", "", "", " please", " thanks", "??", " :)", " asap", "?")


def intent_examples(path: Path | None = None) -> dict[str, list[str]]:
    """The shipped labelled examples by intent, without those naming a customer id."""
    from assistant.runtime import shipped_intents_path
    from tools.requests.slots import find_customer_ids

    examples: dict[str, list[str]] = {}
    for line in (path or shipped_intents_path()).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if not find_customer_ids(row["text"]):
                examples.setdefault(row["label"], []).append(row["text"])
    return examples


class Traffic:
    """Seeded conversations: an optional greeting, an opening question (half from the labelled examples, half from
    a template with drawn slots), zero to three follow-ups and sometimes thanks or goodbye. The same seed and stream
    give the same conversations in the same order."""

    def __init__(self, seed: int, examples: dict[str, list[str]] | None = None) -> None:
        self.seed = seed
        self.examples = examples if examples is not None else intent_examples()

    def conversations(self, stream: str) -> Iterator[list[str]]:
        rng = random.Random(f"{self.seed}:{stream}")
        while True:
            yield self.conversation(rng)

    def conversation(self, rng: random.Random) -> list[str]:
        turns = []
        if rng.random() < 0.3:
            turns.append(rng.choice(self.examples[rng.choice(SMALL_TALK["opening"])]))
        turns.append(self.opening(rng))
        for kind in rng.sample(list(FOLLOW_UPS), rng.choice((0, 1, 1, 2, 2, 3))):
            turns.append(fill(rng.choice(FOLLOW_UPS[kind]), rng))
        if rng.random() < 0.25:
            turns.append(rng.choice(self.examples[rng.choice(SMALL_TALK["closing"])]))
        return turns

    def opening(self, rng: random.Random) -> str:
        if rng.random() < 0.5:
            return reworded(rng.choice(self.examples[rng.choice(OPENING_INTENTS)]), rng)
        return reworded(fill(rng.choice(TEMPLATES), rng), rng)


def reworded(text: str, rng: random.Random) -> str:
    """The question as people type it: sometimes lower-cased, with a lead-in ("quick question: ") or a tail."""
    if rng.random() < 0.3:
        text = text.lower()
    return f"{rng.choice(LEADS)}{text}{rng.choice(TAILS)}"


def fill(template: str, rng: random.Random) -> str:
    """The template with each slot drawn: sums of money in several spellings, relatives, categories, cities."""
    slots = {
        "amount": lambda: money(rng, rng.choice((300, 1_000, 5_000, 20_000, 80_000))),
        "monthly": lambda: f"{money(rng, rng.choice((150, 400, 900, 2_000)))} a month",
        "yearly": lambda: money(rng, rng.choice((35_000, 60_000, 95_000, 150_000))),
        "category": lambda: rng.choice(CATEGORIES), "relative": lambda: rng.choice(RELATIVES),
        "city": lambda: rng.choice(CITIES), "spending": lambda: rng.choice(SPENDING), "care": lambda: rng.choice(CARE),
        "period": lambda: rng.choice(PERIODS), "age": lambda: str(rng.randint(1, 85)),
        "ordinal": lambda: rng.choice(ORDINAL_WORDS), "number": lambda: str(rng.randint(1, 3)),
    }
    text = template.format_map({name: draw() for name, draw in slots.items() if "{" + name + "}" in template})
    return re.sub(r"\ba (?=[aeiou]|HSA\b)", "an ", text, flags=re.IGNORECASE)


def money(rng: random.Random, around: int) -> str:
    """A sum near `around`, spelt as people write it: "$4,250", "4250 dollars", "4k", "$4.2k", "4 grand"."""
    value = max(50, round(around * rng.uniform(0.5, 2.0), -1 if around < 1_000 else -2))
    if value < 1_000:
        return rng.choice((f"${value:,.0f}", f"{value:.0f} dollars", f"{value:.0f} bucks"))
    return rng.choice((f"${value:,.0f}", f"{value:.0f} dollars", f"{value / 1000:.0f}k", f"${value / 1000:.1f}k",
                       f"{value / 1000:.0f} grand"))


# -- the server --------------------------------------------------------------------------------------------------------


def make_bank(root: Path, customers: int) -> Settings:
    """A synthetic bank under root, ingested; one already there (from an earlier --bank-dir run) is reused."""
    from assistant.worker import run_ingest_now
    from ingest.synth import synthesize

    settings = Settings(data_dir=root / "data", source_dir=root / "source")
    if not (root / "ingested").exists():
        synthesize(settings.source_dir, customers=customers, seed=7)
        run_ingest_now(settings, mode="full")
        (root / "ingested").write_text(f"{customers}\n")
    return settings


def serve(data_dir: str, source_dir: str, port: int) -> None:
    """The subprocess: the app on 127.0.0.1:port, one uvicorn worker, no access log."""
    import uvicorn

    from assistant.api.app import create_app

    app = create_app(Settings(data_dir=data_dir, source_dir=source_dir), requests_per_minute=REQUESTS_PER_MINUTE)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def served(settings: Settings, env: dict[str, str] | None = None, count: int = 1) -> Iterator[list[tuple[str, int]]]:
    """`count` API processes started together (the environment `env`, default this one's); yields (base URL, pid)
    of each once /readyz says its engine is warm."""
    with ExitStack() as stack:
        servers = []
        for _ in range(count):
            port = free_port()
            command = [sys.executable, "-m", "bench.chat_load", "--serve",
                       str(settings.data_dir), str(settings.source_dir), str(port)]
            server = stack.enter_context(subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env))
            stack.callback(server.wait, timeout=30)
            stack.callback(server.terminate)
            servers.append((f"http://127.0.0.1:{port}", server))
        for base_url, server in servers:
            wait_until_serving(base_url, server)
        yield [(base_url, server.pid) for base_url, server in servers]


def wait_until_serving(base_url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready (/readyz) within {SERVER_START_TIMEOUT_S:.0f} s")


# -- credentials -------------------------------------------------------------------------------------------------------


def staff_keys(settings: Settings) -> tuple[str, str]:
    """A developer key (mints widget tokens) and an agent key, written before the server starts."""
    with open_store(settings) as store:
        return create_key(store, "developer", "chat load")[0], create_key(store, "agent", "chat load")[0]


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def identities(http: httpx.AsyncClient, settings: Settings, keys: tuple[str, str],
                     customers: int) -> list[Identity]:
    """Who the conversations are with: widget tokens for distinct customers, every fourth an agent's instead."""
    developer_key, agent_key = keys
    with open_store(settings) as store:
        ids = [doc["_id"] for doc in store["customers"].find({}, {"_id": 1}, sort=[("_id", 1)], limit=customers)]
    made = []
    for index, customer_id in enumerate(ids):
        if index % AGENT_EVERY == AGENT_EVERY - 1:
            made.append(Identity(bearer(agent_key), customer_id))
            continue
        minted = await http.post("/v1/widget/tokens", json={"customer_id": customer_id, "ttl_s": 3600},
                                 headers=bearer(developer_key))
        minted.raise_for_status()
        made.append(Identity(bearer(minted.json()["token"])))
    return made


Client = Callable[[httpx.AsyncClient, int, Iterator[Identity], float, "Run"], Awaitable[None]]


# -- the load ----------------------------------------------------------------------------------------------------------


def chat_clients(traffic: Traffic, phase: str) -> Client:
    """Chat clients for one phase of the run: client i holds the conversations of stream "phase:i"."""

    async def chat_client(http: httpx.AsyncClient, index: int, people: Iterator[Identity], until: float,
                          run: Run) -> None:
        """Conversation after conversation, each with the next customer, each turn waiting for the last."""
        conversations = traffic.conversations(f"{phase}:{index}")
        while time.perf_counter() < until:
            session_id, who = None, next(people)
            for message in next(conversations):
                if time.perf_counter() >= until:
                    return
                session_id = await chat_turn(http, who, message, session_id, run)

    return chat_client


async def chat_turn(http: httpx.AsyncClient, who: Identity, message: str, session_id: str | None,
                    run: Run) -> str | None:
    """One timed turn; the session id to continue with (None after an error: a new conversation starts)."""
    body = {"message": message, "session_id": session_id, "customer_id": who.customer_id}
    run.messages.add(message)
    started = time.perf_counter()
    try:
        answer = await http.post("/v1/chat", json={k: v for k, v in body.items() if v}, headers=who.headers)
        ok = answer.status_code == 200 and bool(answer.json()["answer"])
    except (httpx.HTTPError, ValueError, KeyError):
        ok = False
    run.record(started, ok)
    return answer.json()["session_id"] if ok else None


async def health_client(http: httpx.AsyncClient, index: int, people: Iterator[Identity], until: float,
                        run: Run) -> None:
    while time.perf_counter() < until:
        started = time.perf_counter()
        try:
            ok = (await http.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            ok = False
        run.record(started, ok)



async def load(servers: list[tuple[str, int]], who: list[Identity], clients: int, seconds: float,
               client: Client) -> Run:
    """`clients` clients at once, over one connection each, for `seconds`, taking turns through `who`; client i
    talks to server i mod len(servers). Server CPU is the sum over the servers' processes."""
    run, people, pids = Run(), itertools.cycle(who), [pid for _, pid in servers]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with AsyncExitStack() as stack:
        https = [await stack.enter_async_context(httpx.AsyncClient(base_url=url, limits=limits, timeout=30))
                 for url, _ in servers]
        embedded_before = await message_embeddings(https[0])
        started, cpu_before, client_before = time.perf_counter(), sum(map(cpu_seconds, pids)), time.process_time()
        until = started + seconds
        await asyncio.gather(*(client(https[index % len(https)], index, people, until, run)
                               for index in range(clients)))
        run.seconds, run.server_cpu_s = time.perf_counter() - started, sum(map(cpu_seconds, pids)) - cpu_before
        run.client_cpu_s = time.process_time() - client_before
        if len(servers) > 1:
            await asyncio.sleep(COUNTS_FLUSH_S + 0.5)  # every process has added its embedding counts to Redis
        embedded_after = await message_embeddings(https[0])
    run.embeddings = {source: count - embedded_before.get(source, 0) for source, count in embedded_after.items()}
    return run


async def message_embeddings(http: httpx.AsyncClient) -> dict[str, float]:
    """The server's fargo_message_embeddings_total by source ("cache", "model"); empty if it has none."""
    prefix = 'fargo_message_embeddings_total{source="'
    lines = (await http.get("/metrics")).text.splitlines()
    return {line[len(prefix):].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in lines if line.startswith(prefix)}


async def prepare(servers: list[tuple[str, int]], settings: Settings, keys: tuple[str, str], traffic: Traffic,
                  args) -> list[Identity]:
    """Credentials, then FIRST_CONVERSATIONS conversations one at a time (opens the models, indexes and the tools'
    tables, however long that takes on a busy machine), then `--warm-up` seconds of load. Each phase has its own
    conversations, so the measured one does not find its messages already embedded by these."""
    async with httpx.AsyncClient(base_url=servers[0][0], timeout=120) as http:
        who = await identities(http, settings, keys, args.talking)
        first = Run()
        for index, conversation in enumerate(itertools.islice(traffic.conversations("first"), FIRST_CONVERSATIONS)):
            session_id = None
            for message in conversation:
                session_id = await chat_turn(http, who[index % len(who)], message, session_id, first)
        if first.errors:
            raise SystemExit(f"{first.errors} of the first conversations' turns failed")
    await load(servers, who, args.clients, args.warm_up, chat_clients(traffic, "warm-up"))
    return who


def report(label: str, run: Run) -> None:
    print(f"{label:<8} {run.per_second:7.1f} /s  p50 {run.percentile(0.50):6.1f} ms  "
          f"p95 {run.percentile(0.95):6.1f} ms  p99 {run.percentile(0.99):6.1f} ms  "
          f"{len(run.latencies_ms):6d} ok  {run.errors} errors  CPU per request: "
          f"server {1000 * run.server_cpu_s / max(1, len(run.latencies_ms)):4.2f} ms "
          f"({run.server_cpu_s / run.seconds:.2f} cores), "
          f"client {1000 * run.client_cpu_s / max(1, len(run.latencies_ms)):4.2f} ms "
          f"({run.client_cpu_s / run.seconds:.2f} cores)")


def report_traffic(run: Run) -> None:
    turns = len(run.latencies_ms) + run.errors
    line = f"traffic: {turns} turns, {len(run.messages)} distinct messages"
    cached, computed = run.embeddings.get("cache"), run.embeddings.get("model")
    if cached is not None and computed is not None and turns:
        line += (f"; message embeddings from the cache {cached / turns:.0%} of turns, from the model "
                 f"{computed / turns:.0%}, none (follow-ups answered from the session) {1 - (cached + computed) / turns:.0%}")
    print(line)


def replicas(tmp: Path, args) -> None:
    """The bank ingested into a Chroma server (`chroma run`); the chat load against one API process on it, then
    against two sharing a Redis (rate limits, embedding counts) and a metrics directory, clients split between them."""
    root = (args.bank_dir or tmp) / "on-chroma-server"
    with chroma_server(root / "chroma-server") as chroma_url, redis_server() as redis_url:
        os.environ["FARGO_CHROMA_URL"] = chroma_url  # the ingestion here, and every server subprocess
        settings = make_bank(root, args.customers)
        keys = staff_keys(settings)
        traffic, runs = Traffic(args.seed), {}
        shared = {**os.environ, "FARGO_REDIS_URL": redis_url, MULTIPROCESS_DIR: str(tmp / "prometheus")}
        (tmp / "prometheus").mkdir(exist_ok=True)
        for label, count, env in (("1 process", 1, None), ("2 processes", 2, shared)):
            with served(settings, env, count) as servers:
                who = asyncio.run(prepare(servers, settings, keys, traffic, args))
                runs[label] = asyncio.run(load(servers, who, args.clients, args.seconds,
                                               chat_clients(traffic, "measured")))
    print(f"bank: {args.customers:,} customers on a Chroma server; {args.clients} clients for {args.seconds:.0f} s "
          f"each, conversations with {len(who)} customers in turn; 2 processes: clients split between them, "
          f"rate limits and embedding counts in Redis; {os.cpu_count()} CPUs on this machine")
    for label, run in runs.items():
        report(label, run)
        report_traffic(run)
    one, two = runs.values()
    print(f"ratio 2 processes / 1 process: turns/s {two.per_second / one.per_second:.2f}, "
          f"p95 {two.percentile(0.95) / one.percentile(0.95):.2f}")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(*sys.argv[2:4], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=2000, help="size of the synthetic bank")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each load runs")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients, each waiting for its answer")
    parser.add_argument("--talking", type=int, default=400, help="customers the conversations go round")
    parser.add_argument("--warm-up", type=float, default=5.0, help="seconds of chat load before measuring")
    parser.add_argument("--bank-dir", type=Path, help="build the bank here and reuse it on later runs (default: temp)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the conversations (the same seed, the same ones)")
    parser.add_argument("--no-embedding-cache", action="store_true",
                        help="serve with FARGO_EMBEDDING_CACHE_TEXTS=0: every message that needs a vector is embedded, "
                             "as if none repeated")
    parser.add_argument("--replicas", action="store_true",
                        help="one API process against two sharing Redis, both on a Chroma server, in the same run")
    args = parser.parse_args()
    if args.no_embedding_cache:
        os.environ["FARGO_EMBEDDING_CACHE_TEXTS"] = "0"  # the server subprocess inherits it

    with tempfile.TemporaryDirectory(prefix="fargo-bench-chat-") as tmp:
        if args.replicas:
            replicas(Path(tmp), args)
            return
        settings = make_bank(args.bank_dir or Path(tmp), args.customers)
        keys = staff_keys(settings)
        with served(settings) as servers:
            traffic = Traffic(args.seed)
            who = asyncio.run(prepare(servers, settings, keys, traffic, args))
            chat = asyncio.run(load(servers, who, args.clients, args.seconds, chat_clients(traffic, "measured")))
            health = asyncio.run(load(servers, who, args.clients, args.seconds, health_client))

    print(f"bank: {args.customers:,} customers; {args.clients} clients for {args.seconds:.0f} s each, conversations "
          f"with {len(who)} customers in turn (one in {AGENT_EVERY} through an agent); embedding cache "
          f"{'off' if args.no_embedding_cache else 'on'}")
    report("chat", chat)
    report_traffic(chat)
    report("healthz", health)
    print(f"ratio chat turns/s / healthz req/s: {chat.per_second / health.per_second:.2f}")
    print(f"goal: >= 200 turns/s, 0 errors, p95 <= 100 ms -> "
          f"{'met' if chat.per_second >= 200 and chat.errors == 0 and chat.percentile(0.95) <= 100 else 'not met'}")


if __name__ == "__main__":
    main()
