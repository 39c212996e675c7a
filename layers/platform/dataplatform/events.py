"""Events on the platform bus: their shapes, and one adapter that puts them.

Template rules and consumers match on each model's `source` and `detail-type`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SOURCE_PREFIX = "dataplatform"


class PlatformEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: ClassVar[str]
    detail_type: ClassVar[str]

    def entry(self, bus: str) -> PutEventsRequestEntryTypeDef:
        """The PutEvents entry for this event."""
        return {
            "EventBusName": bus,
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": self.model_dump_json(),
        }


class CatalogedTable(BaseModel):
    table: str
    snapshot_id: int
    record_count: int
    file_count: int


class SnapshotCataloged(PlatformEvent):
    """An RDS snapshot export became raw Iceberg tables."""

    source: ClassVar[str] = f"{SOURCE_PREFIX}.snapshot_catalog"
    detail_type: ClassVar[str] = "SnapshotCataloged"

    export_id: str
    snapshot_time: datetime
    source_arn: str
    tables: list[CatalogedTable]


class RawDataLanded(PlatformEvent):
    """New data was committed to a raw table."""

    source: ClassVar[str] = f"{SOURCE_PREFIX}.ingest"
    detail_type: ClassVar[str] = "RawDataLanded"

    table: str
    snapshot_id: int
    run_id: str
    record_count: int


class EventPublisher:
    """Puts platform events on the bus; fails loudly if EventBridge refuses any entry."""

    def __init__(self, events_client: EventBridgeClient, bus: str) -> None:
        self._events = events_client
        self._bus = bus

    def publish(self, event: PlatformEvent) -> None:
        response = self._events.put_events(Entries=[event.entry(self._bus)])
        if response.get("FailedEntryCount", 0):
            raise RuntimeError(f"EventBridge refused {event.detail_type}: {response['Entries']}")
