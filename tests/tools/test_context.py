"""ToolContext: what a tool builds once and keeps for the life of one context (memo), and the features it keeps."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import networkx as nx
import pytest

from retrieval.graph import graph_tfidf
from tools.context import ToolContext


def _context() -> ToolContext:
    graph = nx.MultiDiGraph()
    return ToolContext(None, None, None, graph, graph_tfidf(graph, date(2026, 9, 30)), "run-1")


def test_memo_builds_a_key_once_and_hands_back_the_same_object():
    ctx, builds = _context(), []

    def build():
        builds.append(1)
        return {"table": len(builds)}

    first = ctx.memo("table", build)
    assert ctx.memo("table", build) is first
    assert builds == [1]


def test_memo_keeps_values_per_context_and_per_key():
    one, other = _context(), _context()
    assert one.memo("table", lambda: "one's") == "one's"
    assert other.memo("table", lambda: "other's") == "other's"
    assert one.memo("model", lambda: "one's model") == "one's model"
    assert one.memo("table", lambda: "rebuilt") == "one's"


def test_callers_asking_at_once_wait_for_one_build_and_share_its_object():
    ctx, builds, started = _context(), [], threading.Event()
    release = threading.Event()

    def slow_build():
        builds.append(threading.get_ident())
        started.set()
        release.wait(5)
        return object()

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(ctx.memo, "model", slow_build) for _ in range(8)]
        assert started.wait(5)
        release.set()
        values = [future.result(timeout=5) for future in futures]
    assert len(builds) == 1
    assert all(value is values[0] for value in values)


def test_a_slow_build_does_not_hold_up_another_key():
    ctx, release = _context(), threading.Event()
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(ctx.memo, "slow", lambda: release.wait(5))
        assert pool.submit(ctx.memo, "quick", lambda: "ready").result(timeout=2) == "ready"
        assert not slow.done()
        release.set()
        assert slow.result(timeout=5) is True


def test_a_build_that_fails_keeps_nothing_and_the_next_caller_builds_again():
    ctx = _context()

    def failing():
        raise RuntimeError("store unavailable")

    with pytest.raises(RuntimeError, match="store unavailable"):
        ctx.memo("table", failing)
    assert ctx.memo("table", lambda: "built") == "built"


def test_feature_documents_are_kept_for_the_customers_in_conversation_lately_only(tmp_path, monkeypatch):
    from assistant.settings import Settings
    from retrieval.docstore import open_store

    monkeypatch.setattr("tools.context.FEATURE_CACHE", 2)
    with open_store(Settings(data_dir=tmp_path, mongodb_uri=None)) as store:
        store["features"].insert_many([{"_id": f"run-1:C{n}", "run_id": "run-1", "customer_id": f"C{n}", "age": 30 + n}
                                       for n in range(4)])
        store["job_runs"].insert_one({"_id": "run-1"})
        ctx = _context()
        ctx.store = store
        reads = []
        counted = type(store["features"]).find
        monkeypatch.setattr(type(store["features"]), "find",
                            lambda self, *args, **kwargs: reads.append(self.name) or counted(self, *args, **kwargs))
        assert [ctx.features(f"C{n}")["age"] for n in (0, 1, 0, 2, 0, 1)] == [30, 31, 30, 32, 30, 31]
        assert reads.count("features") == 4  # C0 kept while asked for; C1 read again after C2 and C0 came since
        assert ctx.features("C9") is None
        assert len(ctx._features) == 2
