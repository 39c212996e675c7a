"""Transforms: raw -> staging -> analytics as pure DataFrame functions (`staging`, `model`,
`aggregates`), the analytics tables' contract (`contract`), and the jobs' incremental bookkeeping."""
