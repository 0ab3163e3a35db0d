"""One module per area; each has ``run(ctx) -> AreaResult``."""
