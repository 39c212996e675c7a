"""The /_control resources (see the package's docstring), for tests to steer the server: no auth, so a
server for loopback only."""

from __future__ import annotations

from dptools.samples.reviews_api.messages import BadRequest, Reply, Request, count, json_object, json_reply
from dptools.samples.reviews_api.state import State


def change_dataset(state: State, request: Request) -> Reply:
    """`total` first, then `touch`, so one call can grow the dataset and touch the new reviews."""
    change = json_object(request.body)
    if unknown := sorted(set(change) - {"total", "touch"}):
        raise BadRequest(f"unknown dataset fields {unknown}")
    total = count(change["total"], "total") if "total" in change else None
    touched = change.get("touch", [])
    if not isinstance(touched, list):
        raise BadRequest("touch must be a list of review ids")
    review_ids = [count(i, "review id") for i in touched]
    if total is not None:
        state.log.set_total(total)
    if review_ids:
        state.log.touch(review_ids)
    return json_reply(200, state.log.state())


def dataset(state: State, request: Request) -> Reply:
    return json_reply(200, state.log.state())


def set_faults(state: State, request: Request) -> Reply:
    switches = json_object(request.body)
    faults = state.faults.set(switches)
    if switches.get("revoke_tokens"):
        state.tokens.revoke_all()
    return json_reply(200, faults)


def faults(state: State, request: Request) -> Reply:
    return json_reply(200, state.faults.set({}))  # no switches: reads them


def stats(state: State, request: Request) -> Reply:
    return json_reply(200, state.stats.read())


def reset_stats(state: State, request: Request) -> Reply:
    return json_reply(200, state.stats.read(reset=True))
