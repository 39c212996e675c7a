"""Incremental state in DynamoDB: each endpoint's watermark, and a record of every finished run.

Items are keyed `pk = <source>/<endpoint>`, `sk = watermark | run/<run id> | backfill/<start>/<end>`, so
an endpoint's state is one partition and IAM can scope a function to its sources' keys. The watermark
only moves forward (a conditional write), and only a scheduled run that committed moves it; backfills
never touch it. A long backfill has a cursor of its own instead, per window: the end of its last
committed chunk, moving forward the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WATERMARK = "watermark"
BACKFILL = "backfill"


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    table: str
    snapshot_id: int | None  # None: the run found no records, so nothing was committed
    record_count: int
    announced: bool = False


class IngestState:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    @staticmethod
    def _pk(source: str, endpoint: str) -> dict[str, str]:
        return {"S": f"{source}/{endpoint}"}

    def watermark(self, source: str, endpoint: str) -> str | None:
        return self._value(source, endpoint, WATERMARK)

    def advance_watermark(self, source: str, endpoint: str, value: str, run_id: str) -> bool:
        """Move the watermark to `value` unless it is already there or beyond; True if it moved."""
        return self._advance(source, endpoint, WATERMARK, value, run_id)

    def backfill_cursor(self, source: str, endpoint: str, start: str, end: str) -> str | None:
        """Where the backfill of [start, end) has committed up to: the end of its last committed chunk."""
        return self._value(source, endpoint, f"{BACKFILL}/{start}/{end}")

    def advance_backfill_cursor(
        self, source: str, endpoint: str, start: str, end: str, value: str, run_id: str
    ) -> bool:
        """Move the cursor of the backfill of [start, end) to `value`, forward only; True if it moved."""
        return self._advance(source, endpoint, f"{BACKFILL}/{start}/{end}", value, run_id)

    def _value(self, source: str, endpoint: str, key: str) -> str | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": self._pk(source, endpoint), "sk": {"S": key}},
            ConsistentRead=True,
        ).get("Item")
        return item["value"]["S"] if item else None

    def _advance(self, source: str, endpoint: str, key: str, value: str, run_id: str) -> bool:
        """Set the item `key` to `value` unless it is already there or beyond (ISO-8601 UTC strings
        compare in time order); True if it moved."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "pk": self._pk(source, endpoint),
                    "sk": {"S": key},
                    "value": {"S": value},
                    "run_id": {"S": run_id},
                    "updated_at": {"S": datetime.now(UTC).isoformat()},
                },
                ConditionExpression="attribute_not_exists(#v) OR #v < :v",
                ExpressionAttributeNames={"#v": "value"},
                ExpressionAttributeValues={":v": {"S": value}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def run(self, source: str, endpoint: str, run_id: str) -> RunRecord | None:
        item = self._db.get_item(
            TableName=self._table,
            Key={"pk": self._pk(source, endpoint), "sk": {"S": f"run/{run_id}"}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return RunRecord(
            run_id=run_id,
            table=item["table"]["S"],
            snapshot_id=int(item["snapshot_id"]["N"]) if "snapshot_id" in item else None,
            record_count=int(item["record_count"]["N"]),
            announced=item.get("announced", {}).get("BOOL", False),
        )

    def record_run(self, source: str, endpoint: str, record: RunRecord) -> None:
        item: dict[str, Any] = {
            "pk": self._pk(source, endpoint),
            "sk": {"S": f"run/{record.run_id}"},
            "table": {"S": record.table},
            "record_count": {"N": str(record.record_count)},
            "announced": {"BOOL": record.announced},
            "finished_at": {"S": datetime.now(UTC).isoformat()},
        }
        if record.snapshot_id is not None:
            item["snapshot_id"] = {"N": str(record.snapshot_id)}
        self._db.put_item(TableName=self._table, Item=item)
