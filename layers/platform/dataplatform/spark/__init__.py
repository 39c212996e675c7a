"""Spark sessions for the job files, which run unchanged on local PySpark and EMR Serverless."""
