"""Errors raised by the gis package."""


class GisInputError(ValueError):
    """Bad caller input (coordinates, GeoJSON, search parameters).

    A ValueError subclass so that callers that already map ValueError to a
    400 response keep working; the message is meant to be shown to a user.
    """
