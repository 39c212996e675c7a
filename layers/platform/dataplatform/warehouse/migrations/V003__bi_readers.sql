-- BI users read the analytics schema and nothing else: SELECT on its tables (today's and those later
-- migrations create), no write, no DDL, no access to warehouse_meta. Users join the group from
-- the BI secret (dataplatform.warehouse.bi_access), not here: a migration holds no password.
CREATE GROUP bi_readers;
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA analytics TO GROUP bi_readers;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO GROUP bi_readers;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO GROUP bi_readers;
