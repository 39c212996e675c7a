"""The data platform\x27s shared domain package."""
