"""Plan: specs, recipes, clip pools, the capabilities' scenarios, stream plans and shard jobs."""
