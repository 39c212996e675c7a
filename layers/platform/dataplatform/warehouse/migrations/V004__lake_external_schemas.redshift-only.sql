-- Raw and staging stay queryable from Redshift through Spectrum: external schemas on the Glue
-- catalog's databases, read with the Spectrum role, by the
-- platform's engineers (BI users are not granted them). Redshift only: PostgreSQL has no Spectrum.
CREATE EXTERNAL SCHEMA IF NOT EXISTS lake_raw FROM DATA CATALOG DATABASE 'raw' IAM_ROLE '${SpectrumRoleArn}';
CREATE EXTERNAL SCHEMA IF NOT EXISTS lake_staging FROM DATA CATALOG DATABASE 'staging' IAM_ROLE '${SpectrumRoleArn}';
