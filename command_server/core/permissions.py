"""Roles and what each may do. One table, read by REST routes and Socket.IO handlers alike."""

from __future__ import annotations

ROLES = ("admin", "commander", "operator", "field", "pilot", "screen", "enterprise")

# Permission names are "<area>:<verb>". A route names exactly one; a role holds a set. The table is written
# as "which roles hold each permission" because that is how a reviewer checks it.
_STAFF = {"admin", "commander", "operator"}
_RESPONDERS = _STAFF | {"field", "pilot"}
_EVERYONE = set(ROLES)

GRANTS: dict[str, set[str]] = {
    # profile and platform
    "profile:read": _EVERYONE,
    "profile:write": _EVERYONE - {"screen"},
    "events:read": _EVERYONE - {"enterprise"},
    "files:read": _EVERYONE - {"screen"},
    "files:write": _EVERYONE - {"screen"},
    "bulletins:write": _STAFF,
    "users:admin": {"admin"},
    "audit:read": {"admin"},
    "system:read": _STAFF,
    "system:diagnose": {"admin"},  # the server's internals: event-loop stalls with code stacks
    # organisation and contacts (DUTY-2)
    "org:read": _RESPONDERS | {"screen"},
    "org:write": {"admin"},
    "contacts:read": _RESPONDERS,
    "contacts:write": {"admin", "operator"},
    "contacts:sensitive": _STAFF | {"field"},
    "contacts:identity": {"admin"},
    # map, GIS and simulation (MAP-*, CMD-7)
    "map:read": _RESPONDERS | {"screen"},
    "map:write": {"admin", "operator"},
    "simulation:run": _STAFF | {"field"},
    # duty (DUTY-1, 3, 4)
    "duty:read": _RESPONDERS | {"screen"},
    "duty:write": {"admin", "operator"},
    # alarm intake (ALM-1, ALM-5) and the API keys external systems use to push alarms
    "alarms:read": _RESPONDERS | {"screen"},
    "alarms:write": _STAFF | {"field"},
    "apikeys:admin": {"admin"},
    # monitoring and early warning (ALM-2..4)
    "monitoring:read": _RESPONDERS | {"screen"},
    "monitoring:ingest": {"admin"},
    "monitoring:write": {"admin", "operator"},
    "warnings:read": _RESPONDERS | {"screen"},
    "warnings:ack": _STAFF | {"field"},
    "warning_rules:write": {"admin", "operator"},
    "notifications:read": _EVERYONE,
    # incidents, tasks, plans and the response (CMD-1, CMD-2, PRE-6)
    "incidents:read": _RESPONDERS | {"screen"},
    "incidents:write": _STAFF,
    "incidents:decide": {"admin", "commander"},
    "tasks:read": _RESPONDERS,
    "tasks:update": _RESPONDERS,
    "plans:read": _RESPONDERS,
    "plans:write": {"admin", "operator"},
    "response:start": _STAFF,
    # cameras and video (COM-1, COM-3, COM-7, MAP-7)
    "cameras:read": _RESPONDERS | {"screen"},
    "cameras:write": {"admin", "operator"},
    "cameras:record": _STAFF,
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    role: frozenset(perm for perm, roles in GRANTS.items() if role in roles) for role in ROLES
}

# Socket.IO namespaces and the roles allowed to connect to each.
NAMESPACE_ROLES: dict[str, frozenset[str]] = {
    "/console": frozenset({"admin", "commander", "operator", "enterprise"}),
    "/mobile": frozenset({"field", "pilot", "commander", "operator", "admin"}),
    "/screen": frozenset({"screen", "admin", "commander", "operator"}),
}


def permissions_for(roles: list[str] | tuple[str, ...]) -> frozenset[str]:
    perms: set[str] = set()
    for role in roles:
        perms |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(perms)


def all_permissions() -> frozenset[str]:
    out: set[str] = set()
    for perms in ROLE_PERMISSIONS.values():
        out |= perms
    return frozenset(out)
