"""Sample data for the local stack and the demo, in the exact shape real sources deliver it."""
