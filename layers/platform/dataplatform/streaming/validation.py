"""An event's JSON Schema as Spark: the struct to parse messages into, and the reason a message fails.

Messages are validated inside Spark with column expressions (no Python UDF, so no per-row Python). The
supported subset is what event contracts here use: `type` (object, string, integer, number, boolean),
`properties`, `required`, `enum`, `minimum`, `maximum`, `minLength` and `format: date-time`. Any other
keyword is refused when the schema loads, so a contract never claims a check that does not run.

The reason is the first failing rule, e.g. `missing_required:customer_key`, `wrong_type:quantity`,
`not_in_enum:event_type`, `below_minimum:quantity`, or `not_json` when the value is no JSON object.
A string field's JSON kind is checked on the message text by its key, so a nested string field is
told apart from a same-named one elsewhere in the message only by its value's kind.

Each message is parsed twice whatever its number of fields: into the typed struct, and into the JSON
texts of its fields that are not strings (a struct of strings, one more parse per nested object with
such fields), which is also what tells a message that is no JSON apart. A string field's text is its
typed value (Spark reads any JSON value into a string field as its text). The rules read a field's
presence and text from these, as `get_json_object` would give them (null for JSON null, strings
unquoted); of duplicate keys they judge the last, the one the typed struct holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

SUPPORTED = {
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "format",
}
SPARK_TYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "integer": T.LongType(),
    "number": T.DoubleType(),
    "boolean": T.BooleanType(),
}
_ISO_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
TEXTS = "_texts"  # the message's non-string fields as JSON text; `_texts__<field>` a nested object's
NOT_JSON = "_not_json"  # set by the texts' parse when the message is no JSON (the texts stay null)
# Strict JSON as get_json_object reads it: NaN and Infinity are no JSON numbers.
TEXT_OPTIONS = {"allowNonNumericNumbers": "false", "columnNameOfCorruptRecord": NOT_JSON}


class SchemaError(ValueError):
    """The JSON Schema uses something the validator does not implement, or is not a schema at all."""


@dataclass(frozen=True)
class EventSchema:
    name: str
    document: Mapping[str, Any]

    @classmethod
    def load(cls, path: Path) -> EventSchema:
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SchemaError(f"{path.name}: cannot read the schema: {exc}") from exc
        _check_supported(document, path.name)
        if document.get("type") != "object":
            raise SchemaError(f"{path.name}: an event schema describes an object")
        return cls(path.stem, document)

    def spark_type(self) -> T.StructType:
        return _struct(self.document)

    def with_reason(self, frame: DataFrame, text: str, parsed: str, reason: str) -> DataFrame:
        """`frame` plus the column `reason`: the first rule the message in column `text` breaks (`parsed`
        being its from_json with `spark_type()`), or null."""
        return self.validation(text, parsed).apply(frame, reason)

    def validation(self, text: str, parsed: str) -> Validation:
        """The columns that judge a message in column `text` (`parsed` its from_json), built once: a
        stream applies them to every micro-batch."""
        texts = tuple(_texts(self.document, F.col(text), TEXTS))
        value = F.col(text)
        # Spark's parser stops at the end of the first object; text after it makes the message no JSON.
        trimmed = F.trim(value)
        not_json = F.col(TEXTS).isNull() | F.col(TEXTS).getField(NOT_JSON).isNotNull()
        not_json = not_json | ~trimmed.startswith("{") | ~trimmed.endswith("}")
        checks = [(not_json, F.lit("not_json"))]
        checks += list(_rules(self.document, F.col(parsed), value, TEXTS, ""))
        # One flat CASE WHEN (not nested ones): Spark splits its branches into small generated methods,
        # which the JIT compiles; one huge method (over 8,000 bytes of bytecode) would stay interpreted.
        first, *rest = checks
        why = F.when(*first)
        for failed, then in rest:
            why = why.when(failed, then)
        return Validation(texts, why)


@dataclass(frozen=True)
class Validation:
    """A schema's rules as columns: the JSON texts they read (parents first, since a nested object's
    texts are parsed from its parent's), and the first failing rule's reason."""

    texts: tuple[tuple[str, Column], ...]
    reason: Column

    def apply(self, frame: DataFrame, reason: str) -> DataFrame:
        for name, column in self.texts:
            frame = frame.withColumn(name, column)
        return frame.withColumn(reason, self.reason).drop(*(name for name, _ in self.texts))


def _check_supported(node: Mapping[str, Any], where: str, path: str = "") -> None:
    if not isinstance(node, Mapping):
        raise SchemaError(f"{where}: {path or '(root)'} is not a schema object")
    unknown = sorted(set(node) - SUPPORTED)
    if unknown:
        raise SchemaError(f"{where}: {path or '(root)'} uses unsupported keywords {unknown}")
    kind = node.get("type")
    if kind is not None and kind != "object" and kind not in SPARK_TYPES:
        raise SchemaError(f"{where}: {path or '(root)'} has unsupported type {kind!r}")
    for name, child in node.get("properties", {}).items():
        _check_supported(child, where, f"{path}.{name}" if path else name)


def _struct(node: Mapping[str, Any]) -> T.StructType:
    fields = []
    for name, child in node.get("properties", {}).items():
        kind = child.get("type")
        dtype = _struct(child) if kind == "object" else SPARK_TYPES.get(kind, T.StringType())
        fields.append(T.StructField(name, dtype, nullable=True))
    return T.StructType(fields)


def _is_string(node: Mapping[str, Any]) -> bool:
    return node.get("type", "string") == "string"


def _texts(node: Mapping[str, Any], text: Column, column: str) -> Iterator[tuple[str, Column]]:
    """(column, struct of JSON texts) of the object in `text`'s non-string fields, and the same for each
    of its object fields that has some."""
    names = [name for name, child in node.get("properties", {}).items() if not _is_string(child)]
    fields = [T.StructField(name, T.StringType()) for name in [*names, NOT_JSON]]
    yield column, F.from_json(text, T.StructType(fields), TEXT_OPTIONS)
    for name, child in node.get("properties", {}).items():
        if child.get("type") == "object" and not all(map(_is_string, child.get("properties", {}).values())):
            yield from _texts(child, F.col(column).getField(name), f"{column}__{name}")


def _rules(
    node: Mapping[str, Any], parsed: Column, value: Column, texts: str, label: str
) -> Iterator[tuple[Column, Column]]:
    """(failed, reason) pairs for every rule of `node`'s properties, depth first, in document order."""
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        field = parsed.getField(name)
        raw = field if _is_string(child) else F.col(texts).getField(name)
        at = f"{label}.{name}" if label else name
        present = raw.isNotNull()
        if name in required:
            yield ~present, F.lit(f"missing_required:{at}")
        if not _is_string(child):
            # Present in the text but null once parsed: the JSON kind does not fit the declared type.
            yield present & field.isNull() & (raw != "null"), F.lit(f"wrong_type:{at}")
        if child.get("type") == "integer":
            yield present & field.isNotNull() & raw.contains("."), F.lit(f"wrong_type:{at}")
        if child.get("type") == "string":
            # Spark reads any JSON value into a string field; a string's text starts with a quote.
            quoted = rf'"{re.escape(name)}"\s*:\s*"'
            yield present & ~value.rlike(quoted), F.lit(f"wrong_type:{at}")
        if "enum" in child:
            yield field.isNotNull() & ~field.isin(*child["enum"]), F.lit(f"not_in_enum:{at}")
        if "minimum" in child:
            yield field.isNotNull() & (field < child["minimum"]), F.lit(f"below_minimum:{at}")
        if "maximum" in child:
            yield field.isNotNull() & (field > child["maximum"]), F.lit(f"above_maximum:{at}")
        if "minLength" in child:
            yield field.isNotNull() & (F.length(field) < child["minLength"]), F.lit(f"too_short:{at}")
        if child.get("format") == "date-time":
            yield field.isNotNull() & ~field.rlike(_ISO_DATE_TIME), F.lit(f"not_date_time:{at}")
        if child.get("type") == "object":
            nested = list(_rules(child, field, value, f"{texts}__{name}", at))
            for failed, why in nested:
                yield present & field.isNotNull() & failed, why
