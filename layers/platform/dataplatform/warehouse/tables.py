"""The analytics tables the warehouse loads, with the keys a load merges by (the transforms' merge
keys). Their columns are the warehouse's own (V001), read from it at load time."""

from __future__ import annotations

from dataplatform.warehouse.errors import LoadInputError

SCHEMA = "analytics"
KEYS: dict[str, tuple[str, ...]] = {
    "dim_customer": ("customer_key", "valid_from"),
    "dim_supplier": ("supplier_key",),
    "dim_part": ("part_key",),
    "dim_date": ("date_key",),
    "fact_sales": ("order_key", "line_number"),
    "fact_web_events": ("event_id",),
    "fact_reviews": ("review_id",),
    "agg_revenue_by_nation_month": ("nation_name", "order_month"),
    "agg_daily_funnel": ("event_date",),
    "agg_part_ratings": ("part_key",),
}


def chosen(tables: list[str] | tuple[str, ...] | None) -> list[str]:
    """The tables asked for (all when none), or LoadInputError naming the unknown ones."""
    unknown = sorted(set(tables or ()) - set(KEYS))
    if unknown:
        raise LoadInputError(f"unknown warehouse tables {unknown}; the warehouse loads {sorted(KEYS)}")
    return list(tables) if tables else list(KEYS)
