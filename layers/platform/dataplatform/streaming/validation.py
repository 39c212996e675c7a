"""An event's JSON Schema as Spark: the struct to parse messages into, and the reason a message fails.

Messages are validated inside Spark with column expressions (no Python UDF, so no per-row Python). The
supported subset is what event contracts here use: `type` (object, string, integer, number, boolean),
`properties`, `required`, `enum`, `minimum`, `maximum`, `minLength` and `format: date-time`. Any other
keyword is refused when the schema loads, so a contract never claims a check that does not run.

The reason is the first failing rule, e.g. `missing_required:customer_key`, `wrong_type:quantity`,
`not_in_enum:event_type`, `below_minimum:quantity`, or `not_json` when the value is no JSON object.
A string field's JSON kind is checked on the message text by its key, so a nested string field is
told apart from a same-named one elsewhere in the message only by its value's kind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import Column
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
# JSON kinds as `schema_of_json`-free checks on the raw text of a field (get_json_object keeps it).
_ISO_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"


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

    def violations(self, value: Column, parsed: Column) -> Column:
        """The first rule `parsed` (from_json of `value` with `spark_type()`) breaks, or null."""
        # Spark's parser stops at the end of the first object; text after it makes the message no JSON.
        text = F.trim(value)
        not_json = F.get_json_object(value, "$").isNull() | ~text.startswith("{") | ~text.endswith("}")
        checks = [(not_json, F.lit("not_json"))]
        checks += list(_rules(self.document, parsed, value, "$", ""))
        reason = F.lit(None).cast("string")
        for failed, why in reversed(checks):
            reason = F.when(failed, why).otherwise(reason)
        return reason


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


def _rules(
    node: Mapping[str, Any], parsed: Column, value: Column, json_path: str, label: str
) -> Iterator[tuple[Column, Column]]:
    """(failed, reason) pairs for every rule of `node`'s properties, depth first, in document order."""
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        field, raw = parsed.getField(name), F.get_json_object(value, f"{json_path}.{name}")
        at = f"{label}.{name}" if label else name
        present = raw.isNotNull()
        if name in required:
            yield ~present, F.lit(f"missing_required:{at}")
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
            nested = list(_rules(child, field, value, f"{json_path}.{name}", at))
            for failed, why in nested:
                yield present & field.isNotNull() & failed, why
