from __future__ import annotations

from ..core.api import RouteTable

routes = RouteTable("org")
