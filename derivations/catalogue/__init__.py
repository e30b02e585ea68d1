"""The catalogue: one module per question, each filling the slot registry on import."""
