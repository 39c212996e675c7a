"""Reserved for SQL over the lake: Athena in AWS, Trino locally."""
