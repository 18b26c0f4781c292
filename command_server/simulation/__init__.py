"""Dispersion and river-spill runs: threat zones, affected sensitive areas, stored runs (see README.md)."""
