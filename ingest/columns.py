"""Validating a chunk of CSV rows column by column instead of row by row.

A transaction export repeats a few hundred dates, six channels and a few thousand
merchants across millions of rows, so each column's distinct values are validated
once, together, by pydantic with the model's own field (its type, constraints and
`str_strip_whitespace`/`use_enum_values` config), and a row whose every value passed
becomes its record by lookups. Whatever this cannot vouch for (a value that failed,
a row of the wrong length) is left for the row-by-row model validation, which then
names the field and the reason exactly as before.

Only models whose records are fully checked by their fields qualify: no model or
field validators (which see more than one value), only scalar fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from itertools import repeat
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticKnownError

_SCALARS = (str, int, float, bool, date, datetime)
REMEMBERED_VALUES = 200_000  # per column, across chunks
_UNCHECKED = object()  # a value the column check cannot vouch for


Problem = tuple[str, str]  # (field, reason) of a rejected record


def validation_problem(exc: ValidationError) -> Problem:
    """(field, reason) of the first problem pydantic found in a record; "(record)" when no one field is at fault."""
    error = exc.errors()[0]
    return _problem(error["loc"], error["msg"])


def unknown_reference(field_name: str, collection: str, value: object) -> Problem:
    """(field, reason) of a record whose `field_name` names no record of `collection`."""
    noun = collection.rstrip("s").replace("_", " ")
    return field_name, f"unknown {noun} id {value!r}"


def _problem(loc: Sequence[str | int], msg: str) -> Problem:
    return ".".join(str(part) for part in loc) or "(record)", msg


def _is_scalar(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, UnionType):
        return all(_is_scalar(part) for part in get_args(annotation))
    return annotation is NoneType or annotation in _SCALARS or (
        isinstance(annotation, type) and issubclass(annotation, Enum))


class FieldValues:
    """One model field: validates distinct raw strings at once, remembers what they become, and the first error
    pydantic found in each value it refused (its location inside the field, and its message)."""

    def __init__(self, field: FieldInfo, config: ConfigDict):
        item = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        self.adapter = TypeAdapter(list[item], config=config)
        self.missing: dict[str, Any] = {}
        self.unset: dict[str, tuple[tuple, str]] = {}
        if field.is_required():
            # An empty CSV cell is left out of the record: the error pydantic raises for a required field missing.
            self.unset[""] = ((), PydanticKnownError("missing").message())
        else:
            # An empty CSV cell is a missing value: the field's default, as the model dumps it.
            self.missing[""] = self.adapter.dump_python([field.get_default(call_default_factory=True)], mode="json")[0]
        self.accepted = dict(self.missing)
        self.failed = dict(self.unset)

    def learn(self, values: set[str]) -> None:
        if len(self.accepted) > REMEMBERED_VALUES:  # ids never repeat across chunks: forget them
            self.accepted, self.failed = dict(self.missing), dict(self.unset)
        new = [value for value in values if value not in self.accepted and value != ""]
        try:
            valid = self.adapter.validate_python(new)
        except ValidationError as exc:
            for error in exc.errors():
                index, *inside = error["loc"]
                self.failed.setdefault(new[index], (tuple(inside), error["msg"]))
            failed = {error["loc"][0] for error in exc.errors()}
            new = [value for index, value in enumerate(new) if index not in failed]
            valid = self.adapter.validate_python(new)
        self.accepted.update(zip(new, self.adapter.dump_python(valid, mode="json"), strict=True))

    def problem(self, name: str, value: str) -> Problem:
        """(field, reason) the model reports for a record whose field `name` holds `value`, which failed."""
        inside, msg = self.failed[value]
        return _problem((name, *inside), msg)

    def map(self, values: Sequence[str]) -> list[Any]:
        return list(map(self.accepted.get, values, repeat(_UNCHECKED)))


class ColumnCheck:
    """Turns CSV rows of one model into records, column by column; None where a row needs the model itself."""

    def __init__(self, model: type[BaseModel], header: Sequence[str]):
        config = ConfigDict(**model.model_config)
        self.fields = list(model.model_fields)
        self.header = list(header)
        self.columns = {name: FieldValues(model.model_fields[name], config) for name in self.fields}
        self.absent = {name: self.columns[name].accepted.get("", _UNCHECKED)
                       for name in self.fields if name not in self.header}

    @staticmethod
    def for_file(model: type[BaseModel], header: Sequence[str]) -> ColumnCheck | None:
        """A check for `model` rows under `header`, or None when only the model can judge them."""
        decorators = model.__pydantic_decorators__
        if decorators.model_validators or decorators.field_validators or decorators.root_validators:
            return None
        if not all(_is_scalar(field.annotation) for field in model.model_fields.values()):
            return None
        if len(set(header)) != len(header) or not set(header) <= set(model.model_fields):
            return None  # an extra or repeated column: every row's verdict depends on the row
        return ColumnCheck(model, header)

    def records(self, rows: Sequence[Sequence[str]]) -> list[dict | None]:
        """Each row's record as the model would dump it, or None for the model to validate."""
        width = len(self.header)
        complete = [row for row in rows if len(row) == width]
        mapped = {}
        for index, name in enumerate(self.header):
            column = [row[index] for row in complete]
            self.columns[name].learn(set(column))
            mapped[name] = self.columns[name].map(column)
        for name, default in self.absent.items():
            mapped[name] = [default] * len(complete)
        fields = self.fields
        made = zip(*(mapped[name] for name in fields), strict=True)
        if len(complete) == len(rows) and not any(_UNCHECKED in column for column in mapped.values()):
            return [dict(zip(fields, values, strict=True)) for values in made]
        records: list[dict | None] = []
        for row in rows:
            values = next(made) if len(row) == width else (_UNCHECKED,)
            records.append(None if _UNCHECKED in values else dict(zip(fields, values, strict=True)))
        return records
