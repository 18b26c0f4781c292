"""Declaring REST routes once: path, permission, validated input and output, OpenAPI — all from one decorator.

Every domain's ``routes.py`` owns a ``RouteTable``. A handler receives one ``Ctx`` with the validated body and
query, the path parameters and the authenticated actor; it returns a pydantic model, plain JSON data, an
aiohttp response, or ``None`` (204). Authentication and the permission check happen here, before the
handler runs, so no handler can forget them; ``public=True`` is the only way out and the route test lists
every public route by name.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import re
import types
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError

from . import timing
from .errors import ApiError, integrity_conflict
from .security import Actor, decode_access_token

log = logging.getLogger("ecs.api")

Handler = Callable[["Ctx"], Awaitable[Any]]
SESSION_GUARD: web.AppKey[Callable[[web.Application, Actor], Awaitable[None]]] = web.AppKey("session_guard")
API_KEY_AUTH: web.AppKey[Callable[[web.Request, str], Awaitable[Actor]]] = web.AppKey("api_key_auth")
SECRET: web.AppKey[str] = web.AppKey("secret")
M = TypeVar("M", bound=BaseModel)


def json_default(o: Any) -> Any:
    if isinstance(o, dt.datetime):
        if o.tzinfo is None:
            o = o.replace(tzinfo=dt.UTC)
        return o.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(o, dt.date):
        return o.isoformat()
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    if isinstance(o, decimal.Decimal):
        return float(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, uuid.UUID):
        return str(o)
    if isinstance(o, float):  # a float subclass orjson does not take as a float
        return float(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# orjson, not the standard library: encoding responses was about a tenth of the event loop's busy time under
# load (py-spy, bench/api_latency.py; docs/performance.md, API latency, eleventh round). Datetimes go through
# ``json_default`` so that every instant is written in UTC with "Z", as before; keys that are not strings
# are written as strings, as ``json.dumps`` did.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def dumps_bytes(data: Any) -> bytes:
    """JSON as UTF-8 bytes: compact, non-ASCII kept, NaN and infinities as null."""
    return orjson.dumps(data, default=json_default, option=_ORJSON_OPTIONS)


def dumps(data: Any) -> str:
    return dumps_bytes(data).decode()


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = data.model_dump_json().encode() if isinstance(data, BaseModel) else dumps_bytes(data)
    return web.Response(body=body, status=status, content_type="application/json", charset="utf-8",
                        headers=headers)


@dataclass
class Ctx:
    request: web.Request
    actor: Actor | None
    body: Any = None  # the route's model; the raw bytes where the route defers parsing (``defer_body``)
    query: Any = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def user(self) -> Actor:
        """The authenticated actor; routes that are not public always have one."""
        assert self.actor is not None
        return self.actor

    def int_param(self, name: str) -> int:
        try:
            return int(self.params[name])
        except (KeyError, ValueError):
            raise ApiError(404, "not_found", f"invalid {name}") from None


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    perm: str | None
    public: bool
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    summary: str
    tags: list[str]
    api_key: bool
    raw_body: str | None  # e.g. "multipart/form-data" for uploads, documented but not parsed here
    response_content_type: str | None
    # the JSON ``body`` is documented and checked to be present, but parsed by the handler (``parse_body``) —
    # e.g. in a worker process (core/offload.py), the parse being most of the request's CPU
    defer_body: bool = False


class RouteTable:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.routes: list[Route] = []

    def route(self, method: str, path: str, *, perm: str | None = None, public: bool = False,
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              response: Any = None, status: int = 200, summary: str = "", api_key: bool = False,
              raw_body: str | None = None, response_content_type: str | None = None, defer_body: bool = False
              ) -> Callable[[Handler], Handler]:
        if not public and perm is None:
            raise ValueError(f"{method} {path}: a non-public route must name a permission")

        def deco(fn: Handler) -> Handler:
            self.routes.append(Route(method, path, fn, perm, public, body, query, response, status,
                                     summary or (fn.__doc__ or "").strip().split("\n")[0], [self.tag],
                                     api_key, raw_body, response_content_type, defer_body))
            return fn

        return deco

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


ROUTES_KEY: web.AppKey[list[Route]] = web.AppKey("routes")


def mount(app: web.Application, tables: list[RouteTable]) -> None:
    routes = app.setdefault(ROUTES_KEY, [])  # type: ignore[arg-type]
    for table in tables:
        for r in table.routes:
            app.router.add_route(r.method, r.path, _wrap(r))
            routes.append(r)


def client_ip(request: web.Request) -> str | None:
    return request.remote


async def authenticate(request: web.Request) -> Actor:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, "unauthorized", "authentication required")
    actor = decode_access_token(request.app[SECRET], header[7:].strip(), ip=client_ip(request))
    guard = request.app.get(SESSION_GUARD)
    if guard is not None:
        await guard(request.app, actor)
    return actor


def _query_dict(request: web.Request, model: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, f in model.model_fields.items():
        key = f.alias or name
        if key not in request.query:
            continue
        origin = typing.get_origin(f.annotation)
        is_list = origin is list or (
            origin in (typing.Union, types.UnionType)
            and any(typing.get_origin(a) is list for a in typing.get_args(f.annotation))
        )
        if is_list:
            out[key] = [v for raw in request.query.getall(key) for v in raw.split(",") if v != ""]
        else:
            out[key] = request.query[key]
    return out


def _validation_errors(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    return [
        {"loc": [where, *[str(p) for p in e.get("loc", ())]], "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def body_invalid(exc: ValidationError) -> ApiError:
    return ApiError(422, "validation_error", "invalid request body", {"errors": _validation_errors(exc, "body")})


def _loads(raw: bytes) -> Any:
    """orjson, and the standard library for what orjson refuses: the bare NaN and Infinity some senders write
    are still read, so that the model (or a readings batch, row by row) refuses them with a precise error."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def parse_body(model: type[M], raw: bytes) -> M:
    """A request body: JSON, then the route's model; the errors every route answers with."""
    try:
        data = _loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise body_invalid(exc) from None


def _wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        actor: Actor | None = None
        if not route.public:
            api_key = request.headers.get("X-API-Key") if route.api_key else None
            with timing.phase("auth"):
                if api_key:
                    actor = await request.app[API_KEY_AUTH](request, api_key)
                else:
                    actor = await authenticate(request)
            assert route.perm is not None
            actor.require(route.perm)
        ctx = Ctx(request=request, actor=actor, params=dict(request.match_info))
        if route.query is not None:
            try:
                ctx.query = route.query.model_validate(_query_dict(request, route.query))
            except ValidationError as exc:
                raise ApiError(422, "validation_error", "invalid query parameters",
                               {"errors": _validation_errors(exc, "query")}) from None
        if route.body is not None:
            with timing.phase("body"):
                raw = await request.read()
                if not raw:
                    raise ApiError(400, "body_required", "a JSON body is required")
                ctx.body = raw if route.defer_body else parse_body(route.body, raw)
        result = await route.handler(ctx)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204)
        with timing.phase("json"):
            return json_response(result, status=route.status)

    handler.__name__ = route.handler.__name__
    return handler


@web.middleware
async def timing_middleware(request: web.Request,
                            handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """``Server-Timing`` on every API response, errors included (installed with ``ECS_SERVER_TIMING``)."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    t = timing.start()
    resp = await handler(request)
    if not resp.prepared:  # a streamed response has sent its headers already
        resp.headers[timing.HEADER] = t.header()
    return resp


@web.middleware
async def error_middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return json_response(exc.body(), status=exc.status, headers=headers)
    except IntegrityError:
        exc = integrity_conflict()
        return json_response(exc.body(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status, "http_error")
        return json_response({"error": {"code": code, "message": exc.reason, "details": {}}}, status=exc.status)
    except Exception:
        ref = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", ref, request.method, request.path)
        return json_response({"error": {"code": "internal_error",
                                        "message": "internal server error", "details": {"ref": ref}}}, status=500)


# --- OpenAPI ---------------------------------------------------------------------------------------

_PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]+)?\}")


def _schema_ref(tp: Any, components: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        components[tp.__name__] = schema
        return {"$ref": f"#/components/schemas/{tp.__name__}"}
    return schema


def build_openapi(routes: list[Route], *, title: str, version: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for r in routes:
        path = _PATH_PARAM.sub(r"{\1}", r.path)
        op: dict[str, Any] = {"summary": r.summary, "tags": r.tags, "operationId": f"{r.handler.__name__}"}
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in _PATH_PARAM.findall(r.path)]
        if r.query is not None:
            qs = r.query.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in qs.pop("$defs", {}).items():
                components[name] = sub
            required = set(qs.get("required", []))
            for name, prop in qs.get("properties", {}).items():
                params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if params:
            op["parameters"] = params
        if r.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": _schema_ref(r.body, components)}}}
        elif r.raw_body:
            op["requestBody"] = {"required": True, "content": {r.raw_body: {"schema": {
                "type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}}
        responses: dict[str, Any] = {}
        if r.response is not None:
            responses[str(r.status)] = {"description": "OK", "content": {
                "application/json": {"schema": _schema_ref(r.response, components)}}}
        elif r.response_content_type:
            responses[str(r.status)] = {"description": "OK", "content": {
                r.response_content_type: {"schema": {"type": "string", "format": "binary"}}}}
        else:
            responses[str(r.status)] = {"description": "OK" if r.status != 204 else "No content"}
        responses["default"] = {"description": "Error", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        op["responses"] = responses
        if not r.public:
            op["security"] = [{"bearer": []}] + ([{"apiKey": []}] if r.api_key else [])
            op["x-permission"] = r.perm
        paths.setdefault(path, {})[r.method.lower()] = op
    components["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
    }
