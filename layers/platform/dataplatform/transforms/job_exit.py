"""How jobs/transforms.py reports a failed quality gate, so whatever runs it tells that failure (not worth
a retry: the same input fails the same way) from others. Imports nothing: the local AWS reads it too."""

GATE_FAILED_EXIT = 3
GATE_FAILED_MARKER = "GATE FAILED: "  # on stderr, followed by the gate's message
