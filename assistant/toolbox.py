"""The engine's handle on the tools: calls them by name and times every call."""

from __future__ import annotations

import functools
import hashlib
import inspect
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from retrieval.graph import relatives_of
from tools.registry import TOOL_FUNCTIONS

ToolTimer = Callable[[str, float], None]


class Toolbox:
    def __init__(self, functions: dict[str, Callable] | None = None, on_timing: ToolTimer | None = None):
        self.functions = functions or TOOL_FUNCTIONS
        self.on_timing = on_timing or (lambda name, seconds: None)

    def call(self, name: str, ctx, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self.functions[name](ctx, *args, **kwargs)
        finally:
            self.on_timing(name, time.perf_counter() - started)

    def takes_request(self, name: str) -> bool:
        """Whether the tool ranks for a `tools.requests.Request` (takes a `request` argument)."""
        return "request" in inspect.signature(self.functions[name]).parameters

    def default(self, name: str, parameter: str):
        """The default value of one of the tool's parameters ("k": how many it returns unless told)."""
        return inspect.signature(self.functions[name]).parameters[parameter].default

    def versions(self, name: str) -> dict[str, str]:
        """What a decision record names as the code behind it: Fargo's version and the tool's ranker (a hash of the
        source of the package or module the tool lives in, so any change to its scoring changes it)."""
        return {"tool_version": f"fargo {_package_version()}", "ranker_version": _source_hash(self.functions[name])}

    @staticmethod
    def relatives(ctx, customer_id: str, relations=None) -> list:
        return relatives_of(ctx.graph, customer_id, relations, as_of=ctx.as_of)

    def has_relatives(self, ctx, customer_id: str, relations) -> bool:
        return bool(self.relatives(ctx, customer_id, list(relations) or None))

    @staticmethod
    def hit_dict(hit) -> dict:
        data = hit.to_dict()
        data["passage"] = data["text"]
        data["why_not"] = [item["reason"] for item in data["why_not"]]
        return data


@functools.cache
def _package_version() -> str:
    try:
        return metadata.version("fargo-ai")
    except metadata.PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=32)
def _source_hash(function: Callable) -> str:
    module = sys.modules[function.__module__]
    path = Path(inspect.getfile(module))
    files = sorted(path.parent.glob("*.py")) if module.__package__ and module.__package__ != "tools" else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes())
    return f"{function.__module__}@{digest.hexdigest()[:12]}"
