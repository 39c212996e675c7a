"""SQL over every zone of the lake: Athena (Trino's engine) on the Glue catalog in AWS, and a real Trino
server on the local stack's Glue and S3. The same query text runs on both: the Glue catalog is
`awsdatacatalog` in each, and unqualified names resolve in the raw zone."""
