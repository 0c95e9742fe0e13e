"""The registered tools, by name, and as LangChain tools bound to one open ToolContext.

A tool registers itself with `tools.spec.tool`; its spec (description and
arguments) comes from its own docstring and signature. Its content is compact JSON an LLM
can read; its artifact is the list of `Recommendation`s (or search hits) the
engine and the grounding check use.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING

from langchain_core.tools import StructuredTool

import tools
from tools.spec import REGISTRY, ToolSpec

if TYPE_CHECKING:
    from tools.context import ToolContext


def _register_every_tool() -> dict[str, ToolSpec]:
    """Import every module of the tools package, so each `@tool` function registers itself."""
    for module in pkgutil.iter_modules(tools.__path__):
        if module.name != "registry":
            importlib.import_module(f"tools.{module.name}")
    return REGISTRY


TOOLS = _register_every_tool()
TOOL_FUNCTIONS: dict[str, Callable] = {name: spec.function for name, spec in TOOLS.items()}


def _summary(items) -> str:
    rows = []
    for item in items:
        data = item.to_dict()
        rows.append({key: data.get(key) for key in ("product_id", "name", "title", "text", "reasons", "estimated_annual_value", "relation", "eligible")
                     if data.get(key) not in (None, [], "")})
    return json.dumps(rows, default=str)


def langchain_tools(ctx: ToolContext) -> list[StructuredTool]:
    """Every registered tool bound to `ctx`, ready for `chat_model.bind_tools(...)`."""
    return [_bound(spec, ctx) for spec in TOOLS.values()]


def _bound(spec: ToolSpec, ctx: ToolContext) -> StructuredTool:
    def run(**arguments):
        results = spec.function(ctx, **arguments)
        return _summary(results), results

    return StructuredTool.from_function(func=run, name=spec.name, description=spec.description,
                                        args_schema=spec.arguments, response_format="content_and_artifact")
