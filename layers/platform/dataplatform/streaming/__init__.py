"""Kafka to the raw zone with Spark Structured Streaming."""
