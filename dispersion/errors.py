"""Exceptions raised by the dispersion package.

Every bad input is a ``DispersionInputError`` (a ``ValueError``) so that a caller such as
the command server can map the whole family to an HTTP 4xx without importing each subclass.
"""

from __future__ import annotations


class DispersionInputError(ValueError):
    """An input to a dispersion calculation is missing, out of range or inconsistent."""


class UnknownStabilityClassError(DispersionInputError):
    """A Pasquill stability class outside A–F (or an unknown terrain) was given."""


class UnknownChemicalError(DispersionInputError, LookupError):
    """No chemical in the bundled table matches the name or CAS number."""
