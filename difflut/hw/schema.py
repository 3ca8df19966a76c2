"""Strict JSON Schema checks of loaded files, with errors that name the field.

:func:`check` validates a JSON value (as ``json.loads`` returns it) against a JSON Schema
(draft 2020-12) and raises :class:`~difflut.errors.IRError` naming the first bad field by its
JSON path, e.g. ``layers[3].inputs[12][4]: expected an integer wire id (>= -2), got 1.5``.

"integer" is strict here: a Python ``int`` that is not a ``bool`` (JSON ``true`` and ``1.0`` are
refused, unlike plain JSON Schema where ``1.0`` is an integer). Every schema node that can fail
carries a ``title`` (what was expected), which the message quotes.

Long arrays (rows of wire ids, hex tables, thresholds) are checked by a predicate compiled from
their item schema; it accepts exactly what the schema accepts (``tests/test_untrusted_files.py``
checks this), and only a failing array is handed to the schema validator for its message.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from ..errors import IRError


def _is_int(value) -> bool:
    return type(value) is int  # noqa: E721 (not bool, not an int subclass)


def _is_number(value) -> bool:
    return type(value) in (int, float)


#: a non-empty lowercase hex string (``(?![\s\S])`` is the end of the text, where ``$`` would
#: also match before a final newline)
HEX_STRING = {"title": "a lowercase hex string", "type": "string", "pattern": "^[0-9a-f]+(?![\\s\\S])"}

_SCALAR_TYPES = {"integer": _is_int, "number": _is_number, "string": lambda v: type(v) is str,
                 "boolean": lambda v: type(v) is bool, "null": lambda v: v is None}
_SIMPLE_KEYWORDS = {"title", "type", "minimum", "maximum", "pattern", "anyOf", "items", "minItems", "maxItems"}


def simple_predicate(schema: dict):
    """A function ``value -> bool`` equal to ``schema``'s verdict, or None unless ``schema`` is made
    only of ``type``, ``minimum``, ``maximum``, ``pattern``, ``anyOf``, and for arrays ``items``,
    ``minItems``, ``maxItems`` (recursively)."""
    if not isinstance(schema, dict) or set(schema) - _SIMPLE_KEYWORDS:
        return None
    if "anyOf" in schema:
        parts = [simple_predicate(s) for s in schema["anyOf"]]
        if set(schema) - {"title", "anyOf"} or None in parts:
            return None
        return lambda v: any(p(v) for p in parts)
    kind = schema.get("type")
    if kind == "array":
        if set(schema) & {"minimum", "maximum", "pattern"}:
            return None
        item = simple_predicate(schema.get("items", {"anyOf": []})) if "items" in schema else (lambda v: True)
        if item is None:
            return None
        lo, hi = schema.get("minItems", 0), schema.get("maxItems", float("inf"))
        return lambda v: type(v) is list and lo <= len(v) <= hi and all(map(item, v))
    if kind not in _SCALAR_TYPES or set(schema) & {"items", "minItems", "maxItems"}:
        return None
    is_type = _SCALAR_TYPES[kind]
    lo, hi = schema.get("minimum", -float("inf")), schema.get("maximum", float("inf"))
    if kind == "integer":
        return lambda v: type(v) is int and lo <= v <= hi  # noqa: E721
    if kind == "number" and ("minimum" in schema or "maximum" in schema):
        return lambda v: is_type(v) and not v < lo and not v > hi  # as JSON Schema: NaN passes bounds
    if kind == "string" and "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        return lambda v: type(v) is str and search(v) is not None
    return is_type


@lru_cache(maxsize=None)
def _validator_class():
    import jsonschema
    from jsonschema import Draft202012Validator

    base_items = Draft202012Validator.VALIDATORS["items"]
    predicates: dict[int, tuple] = {}  # id(item schema) -> (item schema, predicate or None)

    def items(validator, item_schema, instance, schema):
        entry = predicates.get(id(item_schema))
        if entry is None or entry[0] is not item_schema:
            entry = predicates[id(item_schema)] = (item_schema, simple_predicate(item_schema))
        accepts = entry[1]
        if accepts is not None and isinstance(instance, list) and all(map(accepts, instance)):
            return
        yield from base_items(validator, item_schema, instance, schema)

    checker = Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": lambda _, v: _is_int(v), "number": lambda _, v: _is_number(v)})
    return jsonschema.validators.extend(Draft202012Validator, {"items": items}, type_checker=checker)


def json_path(parts, where: str = "") -> str:
    """``("layers", 3, "inputs")`` -> ``layers[3].inputs`` (after the prefix ``where``)."""
    text = where
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def shown(value, limit: int = 60) -> str:
    """A short JSON rendering of ``value`` for an error message."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(value, schema: dict, where: str = "") -> None:
    """Raise :class:`IRError` naming the first field of ``value`` that ``schema`` refuses."""
    error = next(iter(_validator_class()(schema).iter_errors(value)), None)
    if error is None:
        return
    path = json_path(error.absolute_path, where)
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        raise IRError(f"{path}: missing key {missing[0]!r}")
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        raise IRError(f"{path}: unexpected key {extra[0]!r}")
    title = error.schema.get("title", f"a value valid under {error.validator!r}")
    raise IRError(f"{path}: expected {title}, got {shown(error.instance)}")
