"""What snapshot_export remembers between invocations, in the ingest state table (DynamoDB).

`pk = snapshot_export/queue`: snapshots waiting for a free export slot, oldest first (`sk = <taken at>/<export
id>`). `pk = snapshot_export/reported`: exports whose end was reported (`sk = <export id>`), written once
with a conditional put, so a finished export is counted once, whether its RDS event, a replay of that
event, or the sweep sees it first.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from dataplatform.snapshot_export.snapshots import Snapshot

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

QUEUE = "snapshot_export/queue"
REPORTED = "snapshot_export/reported"


class ExportLedger:
    def __init__(self, dynamodb: DynamoDBClient, table_name: str) -> None:
        self._db = dynamodb
        self._table = table_name

    def enqueue(self, snapshot: Snapshot) -> None:
        """Keep `snapshot` until a slot frees; queueing it again changes nothing."""
        self._db.put_item(
            TableName=self._table,
            Item={
                **self._queue_key(snapshot),
                "arn": {"S": snapshot.arn},
                "source": {"S": snapshot.source},
                "taken_at": {"S": snapshot.taken_at.isoformat()},
            },
        )

    def dequeue(self, snapshot: Snapshot) -> None:
        self._db.delete_item(TableName=self._table, Key=self._queue_key(snapshot))

    def queued(self) -> list[Snapshot]:
        """The waiting snapshots, oldest first."""
        return [
            Snapshot.from_arn(
                item["arn"]["S"], datetime.fromisoformat(item["taken_at"]["S"]), item["source"]["S"]
            )
            for item in self._partition(QUEUE)
        ]

    def reported(self) -> set[str]:
        """The export ids whose end has been reported."""
        return {item["sk"]["S"] for item in self._partition(REPORTED)}

    def report_once(self, export_id: str, outcome: str) -> bool:
        """Record that the end of `export_id` was reported; False if it already was."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item={"pk": {"S": REPORTED}, "sk": {"S": export_id}, "outcome": {"S": outcome}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @staticmethod
    def _queue_key(snapshot: Snapshot) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": QUEUE}, "sk": {"S": f"{snapshot.taken_at.isoformat()}/{snapshot.export_id}"}}

    def _partition(self, pk: str) -> list[dict[str, AttributeValueTypeDef]]:
        items: list[dict[str, AttributeValueTypeDef]] = []
        for page in self._db.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ConsistentRead=True,
        ):
            items.extend(page.get("Items", []))
        return items
