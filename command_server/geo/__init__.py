"""Map layers, spatial search, coordinate conversion and river tracing (see README.md)."""
