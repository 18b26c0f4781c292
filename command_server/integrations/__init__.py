"""Integrations with external systems: API keys that let them push data (e.g. alarms) without a user login."""
