"""Versions, aliases and qualifiers: releasing a function safely (Function Compute 3.0's model)."""
