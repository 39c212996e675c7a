"""RDS snapshot exports (Parquet in RDS's own S3 layout) registered as raw Iceberg tables."""
