"""Iceberg helpers every capability shares: the Glue catalog (`catalog`), DataFiles from Parquet footers
(`data_files`) and the `dp.*` snapshot-summary keys (`summary`)."""
