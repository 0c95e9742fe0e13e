"""The engine's handle on the tools: calls them by name and times every call."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable

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
