"""Reserved for the transforms: Spark jobs from raw to staging to analytics (jobs/, statemachines/)."""
