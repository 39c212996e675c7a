"""RDS snapshot exports (Parquet in RDS's own S3 layout) registered as raw Iceberg tables."""

# The table property holding a column's PostgreSQL type, which the export gives as a string: staging
# casts with it. Here, free of imports, so Spark jobs on EMR (which have no pyiceberg) can read it.
ORIGINAL_TYPE = "rds.original-type."
