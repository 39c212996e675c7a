"""Every `dp.*` key that commits write into Iceberg snapshot summaries: how a replay finds what a run,
an export, a stream batch or a transform already committed. Free of imports, so Spark jobs read them on EMR
too."""

# Snapshot-summary keys. A run id identifies one run of an ingestion (api_ingest, snapshot_catalog).
RUN_ID = "dp.run-id"
# The streaming job: which stream and micro-batch an append came from (exactly once per table).
STREAM_ID = "dp.stream-id"
STREAM_BATCH = "dp.stream-batch"
# snapshot_catalog: the RDS export a snapshot registered.
EXPORT_ID = "dp.export-id"
SNAPSHOT_TIME = "dp.snapshot-time"
SOURCE_ARN = "dp.source-arn"
# api_ingest: what a run pulled, and the cursor it reached.
WATERMARK = "dp.watermark"
RECORDS = "dp.records"
MODE = "dp.mode"
SOURCE = "dp.source"
ENDPOINT = "dp.endpoint"
WINDOW_START = "dp.window-start"
WINDOW_END = "dp.window-end"
# transforms: the source snapshot a target has processed, one key per source table
# (`dp.processed.raw.tpch__public__customer`), and the run that wrote it.
SOURCE_SNAPSHOT_PREFIX = "dp.processed."
TRANSFORM_RUN = "dp.transform-run"
# How many rows a transform MERGE deleted: a reader of its changes skips the search for deleted keys
# when every commit since it last read recorded none.
DELETED_ROWS = "dp.deleted-rows"
# How many rows a transform MERGE changed (inserted, updated or deleted: the changes it applied); a run's
# figures sum it over the run's commits.
ROWS_CHANGED = "dp.rows-changed"


def source_snapshot_key(source_table: str) -> str:
    return f"{SOURCE_SNAPSHOT_PREFIX}{source_table}"
