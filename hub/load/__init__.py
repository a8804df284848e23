"""Floor 5, a delivery into its staging table: parse, validate, minimise, stage."""
