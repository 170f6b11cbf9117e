"""Schema types in words: for error messages and for the generated config reference.

Pydantic's own messages ("Input should be greater than or equal to 1") name neither
the whole constraint nor the allowed keys; users need "expected an integer >= 1" and
"expected one of the keys arrays, cols, ...". Both come from the field definitions, so
the reference and the errors cannot disagree.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from cosim.common.errors import UserError, describe
from cosim.hw.issues import KeyPath
from cosim.hw.registered import Registered
from cosim.hw.yaml_document import YamlDocument


def describe_type(annotation: Any) -> str:
    """'an integer', "one of 'a', 'b'", 'a mapping of names to SpeedGrade', ..."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return " or ".join(describe_type(a) for a in options)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args) if len(args) > 1 else repr(args[0])
    if origin is list:
        return f"a list of {_plural(args[0])}"
    if origin is dict:
        return f"a mapping of names to {_plural(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"a mapping with keys {', '.join(annotation.model_fields)}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        annotation, str(annotation)
    )


def _plural(annotation: Any) -> str:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"{annotation.__name__} mappings"
    return describe_type(annotation)


def describe_constraints(field: FieldInfo) -> str:
    """'>= 1 and <= 4', 'at least 1 entry', or '' from the field's constraints."""
    parts = []
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            parts.append(f">= {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            parts.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            parts.append(f"<= {item.le}")
        elif isinstance(item, annotated_types.Lt):
            parts.append(f"< {item.lt}")
        elif isinstance(item, annotated_types.MinLen):
            parts.append(f"with at least {item.min_length} entr{'y' if item.min_length == 1 else 'ies'}")
    return " and ".join(parts)


def describe_field_type(field: FieldInfo) -> str:
    """`describe_type` of the field, or the registered names of a `Registered` field."""
    for item in field.metadata:
        if isinstance(item, Registered):
            return item.describe()
    return describe_type(field.annotation)


def describe_field(field: FieldInfo) -> str:
    """Type and constraints of a field: 'an integer >= 1'."""
    constraints = describe_constraints(field)
    text = describe_field_type(field)
    return f"{text} {constraints}" if constraints else text


def field_at(model: type[BaseModel], loc: KeyPath) -> tuple[FieldInfo | None, Any]:
    """The field definition and annotation at `loc` inside `model` (None when unknown)."""
    annotation: Any = model
    field: FieldInfo | None = None
    for part in loc:
        annotation = _strip_optional(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
            field = annotation.model_fields.get(part)
            if field is None:
                return None, None
            annotation = field.annotation
        elif origin is list and isinstance(part, int):
            annotation, field = typing.get_args(annotation)[0], None
        elif origin is dict and isinstance(part, str):
            annotation, field = typing.get_args(annotation)[1], None
        else:
            return None, None
    return field, annotation


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def validation_errors(error: ValidationError, model: type[BaseModel], document: YamlDocument) -> list[UserError]:
    """One `UserError` (file:line: key: expected ..., found ...) per pydantic error.

    Unknown keys come first: a misspelled key is usually why a required key is missing,
    and the "did you mean" line already names it, so that missing-key line is dropped.
    """
    items = _merge_union_branches(error.errors(include_url=False), model)
    extras = [i for i in items if i["type"] == "extra_forbidden"]
    suggested: set[KeyPath] = set()
    for item in extras:
        _, parent = field_at(model, tuple(item["loc"][:-1]))
        close = difflib.get_close_matches(str(item["loc"][-1]), _keys_of(parent), n=1)
        suggested.update((*item["loc"][:-1], name) for name in close)
    rest = [
        i
        for i in items
        if i["type"] != "extra_forbidden" and not (i["type"] == "missing" and tuple(i["loc"]) in suggested)
    ]
    missing: dict[KeyPath, list[str]] = {}
    for item in rest:
        if item["type"] == "missing":
            missing.setdefault(tuple(item["loc"][:-1]), []).append(str(item["loc"][-1]))
    errors = [_one(item, model, document) for item in extras]
    for item in rest:
        parent = tuple(item["loc"][:-1])
        if item["type"] == "missing" and len(missing.get(parent, [])) > 1:
            # several required keys absent (often another kind of file): one line names them all
            names = missing.pop(parent)
            errors.append(
                document.error(parent, f"the required keys {', '.join(names)}", "none of them", found_is_text=True)
            )
        elif item["type"] != "missing" or parent in missing:
            errors.append(_one(item, model, document))
    return errors


def _merge_union_branches(items: list[ErrorDetails], model: type[BaseModel]) -> list[ErrorDetails]:
    """One error per key: pydantic reports a value that fits no member of ``int | float`` once per
    member, at ``high.int`` and ``high.float``; users wrote ``high``. A non-finite number is the
    more telling of the two."""
    merged: dict[KeyPath, ErrorDetails] = {}
    for item in items:
        loc: KeyPath = tuple(item["loc"])
        if len(loc) > 1 and field_at(model, loc) == (None, None):
            _, parent = field_at(model, loc[:-1])
            if typing.get_origin(parent) in (Union, types.UnionType):
                item = {**item, "loc": loc[:-1]}
                loc = loc[:-1]
        if loc not in merged or item["type"] == "finite_number":
            merged[loc] = item
    return list(merged.values())


def _keys_of(annotation: Any) -> list[str]:
    annotation = _strip_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _one(item: ErrorDetails, model: type[BaseModel], document: YamlDocument) -> UserError:
    loc: KeyPath = tuple(item["loc"])
    kind = item["type"]
    value = item.get("input")
    if kind == "config_issue":
        ctx = item["ctx"]
        key = (*loc, ctx["key"])
        found = ctx["found"]
        return document.error(
            key, ctx["expected"], found if ctx["found_is_text"] else describe(found), found_is_text=True
        )
    if kind == "missing":
        field, annotation = field_at(model, loc)
        what = describe_field(field) if field else describe_type(annotation)
        return document.error(loc, f"{what} (a required key)", "nothing", found_is_text=True)
    if kind == "extra_forbidden":
        _, parent = field_at(model, loc[:-1])
        allowed = _keys_of(parent)
        name = str(loc[-1])
        found = f"unknown key {name!r}"
        close = difflib.get_close_matches(name, allowed, n=1)
        if close:
            found += f" (did you mean {close[0]!r}?)"
        return document.error(loc, "one of the keys " + ", ".join(allowed), found, found_is_text=True)
    field, annotation = field_at(model, loc)
    if kind == "finite_number":  # .inf or .nan where a number is expected
        constraints = describe_constraints(field) if field is not None else ""
        expected = f"a finite number {constraints}".rstrip()
    elif field is not None:
        expected = describe_field(field)
    elif annotation is not None:
        expected = describe_type(annotation)
    else:
        expected = item["msg"][0].lower() + item["msg"][1:]
    return document.error(loc, expected, describe(value), found_is_text=True)
