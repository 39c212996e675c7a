"""JSON pages to Arrow: one schema per run whatever the page boundaries, and nothing dropped."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pyarrow as pa
import pytest

from dataplatform.api_ingest.records import RESCUED, MalformedPage, RecordSchema, parse_page


def _body(records: list[dict[str, Any]], **envelope: Any) -> bytes:
    return orjson.dumps({"data": records, **envelope})


def _rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    return batch.to_pylist()


def _run(*pages: list[dict[str, Any]]) -> tuple[RecordSchema, list[pa.RecordBatch]]:
    schema = RecordSchema()
    batches = [schema.conform(parse_page(_body(p), "data", schema.type)) for p in pages]
    return schema, batches


def test_values_stay_as_received_and_the_envelope_is_kept() -> None:
    page = parse_page(
        _body(
            [{"id": 1, "at": "2026-01-01T00:00:00Z", "at2": "2026-01-01T01:00:00+01:00"}], meta={"next": "c2"}
        ),
        "data",
        None,
    )
    assert page.envelope == {"meta": {"next": "c2"}}
    assert page.records.to_pylist() == [
        {"id": 1, "at": "2026-01-01T00:00:00Z", "at2": "2026-01-01T01:00:00+01:00"}
    ]


def test_a_field_null_at_first_takes_its_type_when_it_shows_up() -> None:
    schema, batches = _run([{"id": 1, "images": None}], [{"id": 2, "images": ["a.jpg"]}])
    assert schema.write_schema().field("images").type == pa.list_(pa.string())
    assert "images" not in batches[0].schema.names or batches[0].column("images").null_count == 1
    assert _rows(batches[1])[0]["images"] == ["a.jpg"]


def test_a_field_appearing_mid_stream_grows_the_schema_nested_too() -> None:
    schema, batches = _run(
        [{"id": 1, "who": {"name": "a"}}],
        [{"id": 2, "who": {"name": "b", "nation": "FRANCE"}, "sentiment": {"label": "positive"}}],
        [{"id": 3, "who": {"name": "c"}}],
    )
    assert schema.type == pa.struct(
        [
            ("id", pa.int64()),
            ("who", pa.struct([("name", pa.string()), ("nation", pa.string())])),
            ("sentiment", pa.struct([("label", pa.string())])),
        ]
    )
    assert _rows(batches[2])[0] == {
        "id": 3,
        "who": {"name": "c", "nation": None},
        "sentiment": None,
        RESCUED: None,
    }


def test_integers_where_doubles_are_known_are_cast() -> None:
    schema, batches = _run([{"price": 1.5}], [{"price": 2}])
    assert schema.type.field("price").type == pa.float64()
    assert _rows(batches[1])[0]["price"] == 2.0


@pytest.mark.parametrize("later", [2.5, "two", {"x": 1}])
def test_a_value_that_does_not_fit_the_known_type_is_rescued_not_dropped(later: Any) -> None:
    schema, batches = _run([{"id": 1, "n": 1}], [{"id": 2, "n": later}])
    assert schema.type.field("n").type == pa.int64()
    row = _rows(batches[1])[0]
    assert row["n"] is None
    assert json.loads(row[RESCUED]) == {"n": later}
    assert row["id"] == 2


def test_a_field_whose_kind_changes_within_a_page_is_rescued() -> None:
    schema, batches = _run([{"id": 1, "code": 7}, {"id": 2, "code": "seven"}])
    assert "code" not in schema.write_schema().names
    rows = _rows(batches[0])
    assert [r["id"] for r in rows] == [1, 2]
    assert [json.loads(r[RESCUED]) for r in rows] == [{"code": 7}, {"code": "seven"}]


def test_a_bare_list_body_and_a_nested_record_path() -> None:
    bare = parse_page(orjson.dumps([{"id": 1}, {"id": 2}]), None, None)
    nested = parse_page(orjson.dumps({"result": {"items": [{"id": 3}]}, "total": 1}), "result.items", None)
    assert bare.records.to_pylist() == [{"id": 1}, {"id": 2}]
    assert nested.records.to_pylist() == [{"id": 3}]
    assert nested.envelope == {"total": 1}


def test_an_empty_page_has_no_records() -> None:
    schema = RecordSchema()
    batch = schema.conform(parse_page(_body([], meta={"next": None}), "data", None))
    assert batch.num_rows == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": [{"id": 1}, {"id"', "not valid JSON"),
        (b'{"items": []}', "no records at 'data'"),
        (b'{"data": {"id": 1}}', "not a list"),
        (b'{"data": [1, 2]}', "not objects"),
    ],
)
def test_a_malformed_page_is_refused_with_the_reason(body: bytes, message: str) -> None:
    with pytest.raises(MalformedPage, match=message):
        parse_page(body, "data", None)


def test_the_table_schema_seeds_the_run() -> None:
    table = pa.schema(
        [("_run_id", pa.large_string()), ("id", pa.int64()), ("tags", pa.large_list(pa.large_string()))]
    )
    schema = RecordSchema(table)
    assert schema.type == pa.struct([("id", pa.int64()), ("tags", pa.list_(pa.string()))])
    batch = schema.conform(parse_page(_body([{"id": 1.5, "tags": None}]), "data", schema.type))
    assert json.loads(_rows(batch)[0][RESCUED]) == {"id": 1.5}
