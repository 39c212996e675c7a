"""Footers come from each file's tail without reading the file; anything that is not Parquet is rejected."""

import io
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataplatform.aws import client
from dataplatform.settings import Settings
from dataplatform.snapshot_catalog.files import FOOTER_GUESS, FOOTER_MARGIN, read_table_files
from dataplatform.snapshot_catalog.manifest import ExportRejected, TableStatus

STATUS = TableStatus.model_validate({"target": "db.public.wide", "status": "COMPLETE"})
PREFIX = "exports/e1/db/public.wide/1"


def parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, compression="gzip")
    return out.getvalue()


def read(settings: Settings) -> list[int]:
    with ThreadPoolExecutor(4) as pool:
        export = read_table_files(STATUS, client("s3", settings), "bkt", "exports/e1", pool)
    return [f.footer.num_rows for f in export.files]


def test_small_and_wide_files_give_their_footers(mocked_aws: Settings) -> None:
    s3 = client("s3", mocked_aws)
    s3.create_bucket(Bucket="bkt")
    wide = pa.table({f"column_with_a_long_name_{i:04d}": [i] * 3 for i in range(800)})
    body = parquet(wide)
    footer_length = int.from_bytes(body[-8:-4], "little")
    assert footer_length > FOOTER_GUESS  # needs the second, exact ranged read
    s3.put_object(Bucket="bkt", Key=f"{PREFIX}/part-00000-a.gz.parquet", Body=body)
    s3.put_object(Bucket="bkt", Key=f"{PREFIX}/part-00002-b.gz.parquet", Body=body)
    s3.put_object(Bucket="bkt", Key=f"{PREFIX}/_SUCCESS", Body=b"")
    assert read(mocked_aws) == [3, 3]


@pytest.mark.parametrize(
    "body", [b"", b"PAR1", b"not parquet at all, not even close", b"x" * 100 + b"\xff\xff\xff\x7fPAR1"]
)
def test_a_file_that_is_not_parquet_is_rejected(mocked_aws: Settings, body: bytes) -> None:
    s3 = client("s3", mocked_aws)
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key=f"{PREFIX}/part-00000-a.gz.parquet", Body=parquet(pa.table({"a": [1]})))
    s3.put_object(Bucket="bkt", Key=f"{PREFIX}/part-00001-b.gz.parquet", Body=body)
    with pytest.raises(ExportRejected) as rejected:
        read(mocked_aws)
    assert rejected.value.reason == "corrupt-file" and "part-00001-b" in str(rejected.value)


def test_a_tables_other_files_are_read_only_as_far_as_the_first_ones_footer_reaches(
    mocked_aws: Settings,
) -> None:
    s3 = client("s3", mocked_aws)
    s3.create_bucket(Bucket="bkt")
    body = parquet(pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]}))
    footer_length = int.from_bytes(body[-8:-4], "little") + 8
    for n in range(3):
        s3.put_object(Bucket="bkt", Key=f"{PREFIX}/part-{n:05d}-x.gz.parquet", Body=body)
    ranges: list[str] = []
    s3.meta.events.register(
        "before-send.s3.GetObject", lambda request, **_: ranges.append(request.headers["Range"])
    )
    with ThreadPoolExecutor(4) as pool:
        read_table_files(STATUS, s3, "bkt", "exports/e1", pool)
    sibling = f"bytes=-{footer_length + FOOTER_MARGIN}".encode()
    assert ranges == [f"bytes=-{min(len(body), FOOTER_GUESS)}".encode(), sibling, sibling]
