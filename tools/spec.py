"""Tool registration: `@tool` makes a function a tool, and its signature and docstring are what an LLM sees.

A tool's docstring is written for the LLM that chooses it: the text before
`Args:` is the tool's description, and the `Args:` section lists the
parameters an LLM may fill, each with its description. Parameters the section
leaves out (`ctx`, `k`, a precomputed embedding) stay the engine's. The
arguments' types and defaults come from the signature.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, create_model

ARGS_HEADING = "Args:"
_ARGUMENT_LINE = re.compile(r"^\s{4}(\w+):\s*(.*)$")


class ToolSpecError(ValueError):
    """A tool's docstring or signature cannot make a spec; the message names the tool and what to fix."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    function: Callable[..., list]
    description: str
    arguments: type[BaseModel]


REGISTRY: dict[str, ToolSpec] = {}


def tool(function: Callable[..., list]) -> Callable[..., list]:
    """Register `function` as a tool under its own name (the function itself is returned unchanged)."""
    spec = spec_of(function)
    REGISTRY[spec.name] = spec
    return function


def spec_of(function: Callable[..., list]) -> ToolSpec:
    name = function.__name__
    description, documented = split_docstring(inspect.getdoc(function) or "")
    if not description:
        raise ToolSpecError(f"tool {name!r} has no docstring: its docstring is the LLM's description of it")
    return ToolSpec(name, function, description, argument_model(function, documented))


def split_docstring(docstring: str) -> tuple[str, dict[str, str]]:
    """(the description before `Args:`, parameter name -> its description from the `Args:` section)."""
    description, _, section = docstring.partition(ARGS_HEADING)
    arguments: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        match = _ARGUMENT_LINE.match(line)
        if match:
            current = match.group(1)
            arguments[current] = match.group(2).strip()
        elif current and line.startswith(" " * 8) and line.strip():
            arguments[current] += " " + line.strip()
        elif line.strip():
            current = None
    return description.strip(), arguments


def argument_model(function: Callable[..., list], documented: Mapping[str, str]) -> type[BaseModel]:
    """A pydantic model of the documented parameters, typed and defaulted as the signature says."""
    name = function.__name__
    parameters = inspect.signature(function).parameters
    unknown = sorted(set(documented) - set(parameters))
    if unknown:
        raise ToolSpecError(f"tool {name!r} documents {', '.join(unknown)} under Args: but takes no such parameter")
    fields: dict[str, Any] = {}
    for parameter_name, text in documented.items():
        default = parameters[parameter_name].default
        required = default is inspect.Parameter.empty
        fields[parameter_name] = (_annotation(function, parameter_name),
                                  Field(... if required else default, description=text))
    return create_model(f"{name}_arguments", **fields)


def _annotation(function: Callable[..., list], parameter_name: str) -> Any:
    """One parameter's type, evaluated alone: the others may name types imported only for type checkers."""
    annotation = function.__annotations__.get(parameter_name, Any)
    if isinstance(annotation, str):
        return eval(annotation, function.__globals__)  # noqa: S307 - the tool module's own annotation text
    return annotation
