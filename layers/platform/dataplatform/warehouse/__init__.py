"""Reserved for the warehouse: loading the analytics zone into Redshift (PostgreSQL locally)."""
