-- The analytics zone as Redshift tables for BI. Columns follow the analytics contract
-- (dataplatform/transforms/contract.py; tests/unit/test_warehouse_migrations.py ties them) and the
-- transforms' outputs. Distribution: the customer dimension and the sales fact share customer_key, so
-- their join stays on each slice; small dimensions and the aggregates go to every node (ALL). Sort keys
-- lead with the date BI filters by; the leading sort column stays RAW, the rest AZ64 (numbers, dates)
-- or ZSTD (text).
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE analytics.dim_customer (
    customer_key BIGINT NOT NULL ENCODE RAW,
    name VARCHAR(256) ENCODE ZSTD,
    nation_name VARCHAR(256) ENCODE ZSTD,
    region_name VARCHAR(256) ENCODE ZSTD,
    market_segment VARCHAR(256) ENCODE ZSTD,
    account_balance DECIMAL(15, 2) ENCODE AZ64,
    valid_from TIMESTAMPTZ NOT NULL ENCODE AZ64,
    valid_to TIMESTAMPTZ ENCODE AZ64,
    is_current BOOLEAN NOT NULL ENCODE RAW,
    PRIMARY KEY (customer_key, valid_from)
) DISTSTYLE KEY DISTKEY (customer_key) SORTKEY (customer_key);

CREATE TABLE analytics.dim_supplier (
    supplier_key BIGINT NOT NULL ENCODE RAW,
    name VARCHAR(256) ENCODE ZSTD,
    nation_name VARCHAR(256) ENCODE ZSTD,
    region_name VARCHAR(256) ENCODE ZSTD,
    PRIMARY KEY (supplier_key)
) DISTSTYLE ALL SORTKEY (supplier_key);

CREATE TABLE analytics.dim_part (
    part_key BIGINT NOT NULL ENCODE RAW,
    name VARCHAR(256) ENCODE ZSTD,
    manufacturer VARCHAR(256) ENCODE ZSTD,
    brand VARCHAR(256) ENCODE ZSTD,
    type VARCHAR(256) ENCODE ZSTD,
    size INTEGER ENCODE AZ64,
    container VARCHAR(256) ENCODE ZSTD,
    retail_price DECIMAL(15, 2) ENCODE AZ64,
    PRIMARY KEY (part_key)
) DISTSTYLE ALL SORTKEY (part_key);

CREATE TABLE analytics.dim_date (
    date_key INTEGER NOT NULL ENCODE RAW,
    date DATE ENCODE AZ64,
    year INTEGER ENCODE AZ64,
    quarter INTEGER ENCODE AZ64,
    month INTEGER ENCODE AZ64,
    month_name VARCHAR(16) ENCODE ZSTD,
    day_of_month INTEGER ENCODE AZ64,
    day_of_week INTEGER ENCODE AZ64,
    day_name VARCHAR(16) ENCODE ZSTD,
    is_weekend BOOLEAN ENCODE RAW,
    PRIMARY KEY (date_key)
) DISTSTYLE ALL SORTKEY (date_key);

CREATE TABLE analytics.fact_sales (
    order_key BIGINT NOT NULL ENCODE AZ64,
    line_number INTEGER NOT NULL ENCODE AZ64,
    customer_key BIGINT NOT NULL ENCODE AZ64,
    part_key BIGINT NOT NULL ENCODE AZ64,
    supplier_key BIGINT NOT NULL ENCODE AZ64,
    order_date DATE NOT NULL ENCODE RAW,
    ship_date DATE ENCODE AZ64,
    commit_date DATE ENCODE AZ64,
    receipt_date DATE ENCODE AZ64,
    quantity DECIMAL(15, 2) NOT NULL ENCODE AZ64,
    extended_price DECIMAL(15, 2) NOT NULL ENCODE AZ64,
    discount DECIMAL(15, 2) NOT NULL ENCODE AZ64,
    tax DECIMAL(15, 2) NOT NULL ENCODE AZ64,
    return_flag VARCHAR(1) ENCODE ZSTD,
    line_status VARCHAR(1) ENCODE ZSTD,
    ship_mode VARCHAR(16) ENCODE ZSTD,
    ship_instruct VARCHAR(32) ENCODE ZSTD,
    order_status VARCHAR(1) ENCODE ZSTD,
    order_priority VARCHAR(32) ENCODE ZSTD,
    net_revenue DECIMAL(18, 4) NOT NULL ENCODE AZ64,
    PRIMARY KEY (order_key, line_number)
) DISTSTYLE KEY DISTKEY (customer_key) COMPOUND SORTKEY (order_date, customer_key);

CREATE TABLE analytics.fact_web_events (
    event_id VARCHAR(64) NOT NULL ENCODE ZSTD,
    event_type VARCHAR(32) ENCODE ZSTD,
    occurred_at TIMESTAMPTZ ENCODE AZ64,
    event_date DATE ENCODE RAW,
    session_id VARCHAR(64) ENCODE ZSTD,
    customer_key BIGINT ENCODE AZ64,
    part_key BIGINT ENCODE AZ64,
    quantity INTEGER ENCODE AZ64,
    unit_price DECIMAL(15, 2) ENCODE AZ64,
    PRIMARY KEY (event_id)
) DISTSTYLE KEY DISTKEY (session_id) COMPOUND SORTKEY (event_date, session_id);

CREATE TABLE analytics.fact_reviews (
    review_id BIGINT NOT NULL ENCODE AZ64,
    part_key BIGINT ENCODE AZ64,
    customer_key BIGINT ENCODE AZ64,
    rating INTEGER ENCODE AZ64,
    updated_at TIMESTAMPTZ ENCODE RAW,
    PRIMARY KEY (review_id)
) DISTSTYLE KEY DISTKEY (part_key) SORTKEY (updated_at);

CREATE TABLE analytics.agg_revenue_by_nation_month (
    nation_name VARCHAR(256) NOT NULL ENCODE ZSTD,
    region_name VARCHAR(256) ENCODE ZSTD,
    order_month DATE NOT NULL ENCODE RAW,
    net_revenue DECIMAL(38, 4) ENCODE AZ64,
    order_lines BIGINT ENCODE AZ64,
    orders BIGINT ENCODE AZ64,
    PRIMARY KEY (nation_name, order_month)
) DISTSTYLE ALL SORTKEY (order_month);

CREATE TABLE analytics.agg_daily_funnel (
    event_date DATE NOT NULL ENCODE RAW,
    page_view_sessions BIGINT ENCODE AZ64,
    add_to_cart_sessions BIGINT ENCODE AZ64,
    purchase_sessions BIGINT ENCODE AZ64,
    view_to_cart_rate DECIMAL(9, 4) ENCODE AZ64,
    cart_to_purchase_rate DECIMAL(9, 4) ENCODE AZ64,
    PRIMARY KEY (event_date)
) DISTSTYLE ALL SORTKEY (event_date);

CREATE TABLE analytics.agg_part_ratings (
    part_key BIGINT NOT NULL ENCODE RAW,
    reviews BIGINT ENCODE AZ64,
    average_rating DECIMAL(4, 2) ENCODE AZ64,
    rating_1 BIGINT ENCODE AZ64,
    rating_2 BIGINT ENCODE AZ64,
    rating_3 BIGINT ENCODE AZ64,
    rating_4 BIGINT ENCODE AZ64,
    rating_5 BIGINT ENCODE AZ64,
    PRIMARY KEY (part_key)
) DISTSTYLE ALL SORTKEY (part_key);
