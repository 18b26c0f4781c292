"""Roles and what each may do. One table, read by REST routes and Socket.IO handlers alike."""

from __future__ import annotations

ROLES = ("admin", "commander", "operator", "field", "pilot", "screen", "enterprise")

# Permission names are "<area>:<verb>". A route names exactly one; a role holds a set.
_READ_ORG = {"org:read", "contacts:read"}
_BASE = {"events:read", "files:read", "profile:write"}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        _READ_ORG
        | _BASE
        | {
            "org:write",
            "contacts:write",
            "contacts:sensitive",
            "contacts:identity",
            "files:write",
            "bulletins:write",
            "users:admin",
            "audit:read",
            "system:read",
        }
    ),
    "commander": frozenset(_READ_ORG | _BASE | {"contacts:sensitive", "files:write", "bulletins:write", "system:read"}),
    "operator": frozenset(
        _READ_ORG | _BASE | {"contacts:write", "contacts:sensitive", "files:write", "bulletins:write", "system:read"}
    ),
    "field": frozenset(_READ_ORG | _BASE | {"contacts:sensitive", "files:write"}),
    "pilot": frozenset(_READ_ORG | _BASE | {"files:write"}),
    "screen": frozenset({"events:read", "org:read"}),
    "enterprise": frozenset({"files:read", "files:write", "profile:write"}),
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
