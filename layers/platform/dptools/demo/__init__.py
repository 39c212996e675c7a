"""The demo and the smoke flow: the local stack doing real work end to end, reported step by step."""
