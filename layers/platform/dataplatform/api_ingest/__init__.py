"""Scheduled REST API ingestion into the raw zone."""
