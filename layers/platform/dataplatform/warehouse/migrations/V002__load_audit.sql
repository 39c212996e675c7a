-- One row per committed load batch, written in the batch's own transaction: the last row of a table
-- is its watermark (the Iceberg snapshot loaded last), and a batch id already here is a replay.
CREATE TABLE warehouse_meta.load_audit (
    batch_id VARCHAR(256) NOT NULL ENCODE ZSTD,
    table_name VARCHAR(128) NOT NULL ENCODE ZSTD,
    previous_snapshot_id BIGINT ENCODE AZ64,
    source_snapshot_id BIGINT NOT NULL ENCODE AZ64,
    rows_staged BIGINT NOT NULL ENCODE AZ64,
    rows_deleted BIGINT NOT NULL ENCODE AZ64,
    loaded_at TIMESTAMPTZ NOT NULL DEFAULT SYSDATE ENCODE RAW,
    PRIMARY KEY (batch_id)
) DISTSTYLE ALL SORTKEY (loaded_at);
