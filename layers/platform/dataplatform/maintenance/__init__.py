"""Iceberg table maintenance that runs beside the live stream appending to the raw tables.

Per table, in this order: compact small data files (`rewrite_data_files`, binpack), rewrite manifests when
there are many, expire old snapshots, remove orphan files. Each step commits on its own and is retried
with backoff when its commit lost a race with the stream's appends; any other failure stops the table.

Two rules keep the stream safe:

- Its exactly-once check walks back from the current snapshot to the latest snapshot carrying its
  `dp.stream-id`. Expiry keeps `retain_last` snapshots counted from the deepest such marker, not just
  from the head, so a stream that has been idle longer than `expire_older_than` still finds its marker.
- A data file the stream has written but not yet committed looks like an orphan. Orphan removal only
  considers files older than `orphan_older_than`, which the policy requires to be at least
  `longest_writer_commit`.

Orphan removal runs Iceberg's DeleteOrphanFiles Spark action (the one behind the `remove_orphan_files`
procedure) with prefix listing through the table's FileIO (S3FileIO). The default listing goes through
Hadoop FileSystem, and there is no `s3://` implementation for it without hadoop-aws. The action is called
directly because the procedure refuses any `older_than` less than 24 hours old unless `spark.testing` is
set, and that static conf cannot be set on a running session. Going through the action keeps a single
code path that tests can run with seconds in place of days.
"""
