"""Warm start: the Runtime opens and warms up at start-up, before /readyz says ready.

Opening it loads the encoder and the intent classifier; the app's default opener
then has it take a warm-up conversation (`Runtime.warm_up`), so the tools'
memoised indexes and caches are built before the first person asks. This runs
in one background thread, so /healthz answers meanwhile; a request that needs the
Runtime in that time waits for it (the runtime lock) instead of opening another.
A service started before any ingestion run completes warms up when /readyz first
finds live data.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future, ThreadPoolExecutor

from assistant.api.deps import current_runtime
from tools.context import NoLiveData

log = logging.getLogger("fargo.api")
READY_WAIT_S = 0.5  # how long /readyz waits for a warm-up under way before it answers "warming up"


def executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="warm-start")


def start(state) -> Future:
    """The warm-up under way, or a new one when the Runtime is not open and no warm-up is running."""
    with state.warm_lock:
        if state.warming is None or (state.warming.done() and state.runtime is None):
            state.warming = state.warm_executor.submit(_open, state)
        return state.warming


def _open(state) -> None:
    try:
        current_runtime(state)
    except NoLiveData:
        pass
    except Exception:
        log.exception("opening the engine at start-up failed; /readyz and the next request try again")
        raise


async def engine_readiness(state) -> tuple[bool, str]:
    """Whether the engine is open and warm, for /readyz (starts the warm-up if nothing has yet)."""
    if state.runtime is not None:
        return True, "warm"
    warming = start(state)  # a new attempt when the last one failed
    try:
        await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(warming)), READY_WAIT_S)
    except TimeoutError:
        return False, "warming up: loading the models and building the indexes"
    except Exception as exc:  # noqa: BLE001 - logged by _open; the probe reports it
        return False, f"could not open: {exc}"
    return (True, "warm") if state.runtime is not None else (False, "not open")
