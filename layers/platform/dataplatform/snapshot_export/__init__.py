"""RDS snapshot exports, whole lifecycle: start one per automated snapshot, queue past RDS's limit of
concurrent exports, and watch each to its end so none fails silently."""
