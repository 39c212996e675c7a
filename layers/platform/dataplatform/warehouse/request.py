"""What the loader is asked: all changed tables, or some; the transform run that asks, if any."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LoadRequest(BaseModel):
    """The loader's event: `{}` from the transform state machine's run (with its `run_id`), or
    `{"tables": [...]}` by hand."""

    model_config = ConfigDict(extra="ignore")

    tables: list[str] | None = None
    run_id: str | None = None
