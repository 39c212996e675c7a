"""JSON pages to Arrow, with one schema for the whole run however the pages differ.

A page body is parsed by pyarrow's JSON reader straight into Arrow (no Python objects on the fast
path), with the run's known record type given explicitly so that strings stay strings (the reader would
otherwise turn ISO timestamps into timestamps) and a value that does not fit fails loudly.

`RecordSchema` then conforms each page to the run's type, which only grows:

- a field that appears later is added (nested fields too); a field null so far takes its first real type;
- an integer where a double is known is cast;
- any other disagreement (a string where a number is known, a double where an integer is known) is
  not forced: that page's values of the field are kept, as JSON, in `_rescued_data`.

So types do not depend on where pages happen to break, and nothing is dropped.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

RESCUED = "_rescued_data"
_RECORDS = "__records"


class MalformedPage(ValueError):
    """A page body that is not the JSON the definition describes."""


@dataclass
class ParsedPage:
    records: pa.StructArray
    envelope: dict[str, Any] = field(default_factory=dict)  # the body without its records
    rescued: pa.Array | None = None  # JSON strings, when a field had to be set aside


def _path(path: str | None) -> list[str]:
    return path.split(".") if path else []


def lookup(envelope: Mapping[str, Any], path: str) -> Any:
    """A value of the body at a dotted path; None when any step is missing."""
    value: Any = envelope
    for part in _path(path):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _wrapped(record_path: str | None, item: pa.DataType | None) -> pa.Schema | None:
    """The explicit schema of the body for the reader: the records' list at `record_path`."""
    if item is None:
        return None
    parts = _path(record_path) or [_RECORDS]
    node: pa.DataType = pa.list_(item)
    for part in reversed(parts[1:]):
        node = pa.struct([(part, node)])
    return pa.schema([(parts[0], node)])


def _strings_for_timestamps(dtype: pa.DataType) -> pa.DataType:
    """The reader's inferred type with timestamps back to strings: raw keeps values as received."""
    if pa.types.is_timestamp(dtype):
        return pa.string()
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(_strings_for_timestamps(f.type)) for f in dtype])
    if pa.types.is_list(dtype):
        return pa.list_(_strings_for_timestamps(dtype.value_type))
    return dtype


def _read(body: bytes, schema: pa.Schema | None) -> pa.Table:
    options = pa_json.ParseOptions(
        explicit_schema=schema, unexpected_field_behavior="infer", newlines_in_values=True
    )
    read_options = pa_json.ReadOptions(use_threads=False, block_size=len(body) + 1)
    return pa_json.read_json(io.BytesIO(body), read_options=read_options, parse_options=options)


def _split(table: pa.Table, record_path: str | None) -> tuple[pa.StructArray, dict[str, Any]]:
    parts = _path(record_path) or [_RECORDS]
    if table.num_rows != 1 or parts[0] not in table.column_names:
        raise MalformedPage(f"the body has no records at {record_path or '(the body itself)'!r}")
    column = table.column(parts[0]).combine_chunks()
    envelope = {name: table.column(name)[0].as_py() for name in table.column_names if name != parts[0]}
    for part in parts[1:]:
        if not pa.types.is_struct(column.type) or column.type.get_field_index(part) < 0:
            raise MalformedPage(f"the body has no records at {record_path!r}")
        column = column.field(part)
    if not pa.types.is_list(column.type):
        raise MalformedPage(f"{record_path or 'the body'} is not a list of records")
    items = column.flatten()
    if pa.types.is_null(items.type):  # an empty list
        items = pa.array([], pa.struct([]))
    if not pa.types.is_struct(items.type):
        raise MalformedPage(f"the records at {record_path or 'the body'} are not objects")
    return items, envelope


def _plain_kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _parse_slow(body: bytes, record_path: str | None) -> ParsedPage:
    """Through Python objects: for bodies the fast reader refuses, so the error can be told apart
    (malformed JSON) from a field whose kind changes between records (set aside in `_rescued_data`)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedPage(f"the body is not valid JSON: {exc}") from None
    records = lookup(document, record_path) if record_path else document
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise MalformedPage(f"{record_path or 'the body'} is not a list of objects")
    kinds: dict[str, set[str]] = {}
    for record in records:
        for key, value in record.items():
            kind = _plain_kind(value)
            if kind:
                kinds.setdefault(key, set()).add(kind)
    mixed = {key for key, seen in kinds.items() if len(seen) > 1}
    rescued: list[str | None] = []
    for record in records:
        aside = {key: record.pop(key) for key in mixed if record.get(key) is not None}
        rescued.append(orjson.dumps(aside).decode() if aside else None)
    envelope = document if isinstance(document, dict) else {}
    ndjson = b"\n".join(orjson.dumps(r) for r in records) if records else b""
    if ndjson:
        inferred = _read(ndjson, None).schema
        schema = pa.schema([f.with_type(_strings_for_timestamps(f.type)) for f in inferred])
        table = _read(ndjson, schema)
        items = pa.StructArray.from_arrays(
            [c.combine_chunks() for c in table.columns], fields=list(table.schema)
        )
    else:
        items = pa.array([], pa.struct([]))
    top = _path(record_path)[0] if record_path else None
    rest = {k: v for k, v in envelope.items() if k != top}
    return ParsedPage(items, rest, pa.array(rescued, pa.string()) if mixed else None)


def parse_page(body: bytes, record_path: str | None, known: pa.StructType | None) -> ParsedPage:
    """A page's records as one StructArray, typed by `known` where it applies and inferred elsewhere."""
    # A bare list becomes an object, since the reader takes objects.
    wrapped = body if record_path else b'{"' + _RECORDS.encode() + b'":' + body + b"}"
    try:
        table = _read(wrapped, _wrapped(record_path, known))
        items, envelope = _split(table, record_path)
        if _has_timestamp(items.type):
            table = _read(wrapped, _wrapped(record_path, _strings_for_timestamps(items.type)))
            items, envelope = _split(table, record_path)
    except pa.ArrowInvalid:
        return _parse_slow(body, record_path)
    return ParsedPage(items, envelope)


def _has_timestamp(dtype: pa.DataType) -> bool:
    if pa.types.is_timestamp(dtype):
        return True
    if pa.types.is_struct(dtype):
        return any(_has_timestamp(f.type) for f in dtype)
    if pa.types.is_list(dtype):
        return _has_timestamp(dtype.value_type)
    return False


# ------------------------------------------------------------------ one schema per run
def _normalize(dtype: pa.DataType) -> pa.DataType:
    """Iceberg hands back large strings and lists; pages come as the plain ones."""
    if pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_large_list(dtype) or pa.types.is_list(dtype):
        return pa.list_(_normalize(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, _normalize(f.type)) for f in dtype])
    return dtype


def merge_type(known: pa.DataType, seen: pa.DataType) -> pa.DataType | None:
    """The run's type after a page showed `seen` where `known` was known; None if they disagree."""
    if known == seen or pa.types.is_null(seen):
        return known
    if pa.types.is_null(known):
        return seen
    if pa.types.is_floating(known) and pa.types.is_integer(seen):
        return known
    if pa.types.is_struct(known) and pa.types.is_struct(seen):
        fields = []
        for f in known:
            index = seen.get_field_index(f.name)
            merged = f.type if index < 0 else merge_type(f.type, seen.field(index).type)
            if merged is None:
                return None
            fields.append(f.with_type(merged))
        fields += [f for f in seen if known.get_field_index(f.name) < 0]
        return pa.struct(fields)
    if pa.types.is_list(known) and pa.types.is_list(seen):
        merged = merge_type(known.value_type, seen.value_type)
        return None if merged is None else pa.list_(merged)
    return None


def conform(array: pa.Array, dtype: pa.DataType) -> pa.Array:
    """`array` as `dtype`, which `merge_type` made from its type: missing fields are null."""
    if array.type == dtype:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), dtype)
    if pa.types.is_struct(dtype):
        children = [
            conform(array.field(f.name), f.type)
            if array.type.get_field_index(f.name) >= 0
            else pa.nulls(len(array), f.type)
            for f in dtype
        ]
        return pa.StructArray.from_arrays(children, fields=list(dtype), mask=array.is_null())
    if pa.types.is_list(dtype):
        values = conform(array.values, dtype.value_type)
        return pa.ListArray.from_arrays(array.offsets, values, type=dtype, mask=array.is_null())
    return array.cast(dtype)


def project(array: pa.Array, dtype: pa.DataType) -> pa.Array:
    """`array` narrowed to `dtype`, a copy of its type without some fields (those only ever null)."""
    if array.type == dtype:
        return array
    if pa.types.is_struct(dtype):
        children = [project(array.field(f.name), f.type) for f in dtype]
        return pa.StructArray.from_arrays(children, fields=list(dtype), mask=array.is_null())
    if pa.types.is_list(dtype):
        values = project(array.values, dtype.value_type)
        return pa.ListArray.from_arrays(array.offsets, values, type=dtype, mask=array.is_null())
    return array.cast(dtype)


def drop_null_fields(dtype: pa.DataType) -> pa.DataType | None:
    """The type to write: fields that were only ever null have no type yet, and are left out."""
    if pa.types.is_null(dtype):
        return None
    if pa.types.is_struct(dtype):
        fields = [f.with_type(t) for f in dtype if (t := drop_null_fields(f.type)) is not None]
        return pa.struct(fields) if fields else None
    if pa.types.is_list(dtype):
        inner = drop_null_fields(dtype.value_type)
        return None if inner is None else pa.list_(inner)
    return dtype


class RecordSchema:
    """The run's record type: seeded from the table, grown by each page."""

    def __init__(self, table_schema: pa.Schema | None = None) -> None:
        fields = [] if table_schema is None else [f for f in table_schema if not f.name.startswith("_")]
        self.type: pa.StructType = pa.struct([pa.field(f.name, _normalize(f.type)) for f in fields])
        self._written: tuple[pa.StructType, pa.Schema] | None = None

    def conform(self, page: ParsedPage) -> pa.RecordBatch:
        """The page's records as a batch of the run's (possibly grown) type, plus `_rescued_data`."""
        records = page.records
        merged = merge_type(self.type, records.type)
        aside: dict[str, pa.Array] = {}
        if merged is None:
            # Some top-level fields disagree with what the run knows: keep the rest, set those aside.
            kept = []
            for f in records.type:
                index = self.type.get_field_index(f.name)
                if index >= 0 and merge_type(self.type.field(index).type, f.type) is None:
                    aside[f.name] = records.field(f.name)
                else:
                    kept.append(f)
            records = pa.StructArray.from_arrays(
                [records.field(f.name) for f in kept], fields=kept, mask=records.is_null()
            )
            merged = merge_type(self.type, records.type)
            assert merged is not None
        self.type = merged
        conformed = conform(records, merged)
        columns = [conformed.field(f.name) for f in merged]
        names = [f.name for f in merged]
        rescued = _rescued_column(page.rescued, aside, len(records))
        return pa.RecordBatch.from_arrays([*columns, rescued], names=[*names, RESCUED])

    def write_schema(self) -> pa.Schema:
        if self._written is None or self._written[0] != self.type:
            written = drop_null_fields(self.type)
            self._written = (self.type, pa.schema(list(written) if written is not None else []))
        return self._written[1]


def _rescued_column(rescued: pa.Array | None, aside: dict[str, pa.Array], rows: int) -> pa.Array:
    if not aside:
        return rescued if rescued is not None else pa.nulls(rows, pa.string())
    earlier = rescued.to_pylist() if rescued is not None else [None] * rows
    values = {name: array.to_pylist() for name, array in aside.items()}
    out: list[str | None] = []
    for row in range(rows):
        before = earlier[row]
        merged = orjson.loads(before) if isinstance(before, str) else {}
        merged.update({name: v[row] for name, v in values.items() if v[row] is not None})
        out.append(orjson.dumps(merged).decode() if merged else None)
    return pa.array(out, pa.string())


def max_string(batch: pa.RecordBatch, column: str) -> str | None:
    if column not in batch.schema.names or batch.num_rows == 0:
        return None
    value = pc.max(batch.column(column).cast(pa.string())).as_py()
    return None if value is None else str(value)
