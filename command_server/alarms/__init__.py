"""Alarm intake (ALM-1, ALM-5): every channel's first report of an environmental emergency."""
