"""A service's most requested GET routes answered without FastAPI's per-request routing
and dependency resolution.

FastAPI spends about 0.2 ms of CPU on every request before the endpoint runs: it matches
the request against the route table (included routers one by one) and, for each
parameter of each dependency, works out again from its annotation what kind it is. On a
read that then costs ~0.3 ms itself, that is the larger half. :class:`FastReads` answers
a few named GET routes from a plan made once at start-up, with the same pieces FastAPI
would use: the same endpoint function, the same dependency functions (authentication
and scopes included), the same pydantic validators of the path and query parameters.

It answers only what it can answer exactly as FastAPI would: a request whose parameters
all validate, whose dependencies and endpoint return a ``Response`` or raise an error the
app has a handler for (no token, not found, database down: the same handler answers).
Anything else — a bad or missing parameter (FastAPI reports every one of them), an
error without a handler, a dependency override (tests) — goes to FastAPI untouched,
which gives its usual answer (a GET changes nothing, so running it again is safe).

It sits inside the service's own middleware (server span, request ids, ``API-Version``,
metrics) and sets the route in the scope as FastAPI's routing does, so spans and metrics
are named by the route template as usual.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from fastapi.security import SecurityScopes
from prometheus_client.core import CounterMetricFamily
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from .middleware import ASGIApp, Receive, Scope, Send


class NotEligible(ValueError):
    """The route uses something the fast path does not resolve (a programming error:
    leave the route to FastAPI)."""


@dataclass(frozen=True)
class _Param:
    name: str  # the function's argument
    alias: str  # the name in the URL
    field: Any  # FastAPI's ModelField: its validator, default and requiredness
    required: bool
    # The default when the URL has none: given as is when it cannot be changed (None, a
    # number, a string), else a deep copy per request, as FastAPI gives it.
    default: Any
    shared_default: bool


@dataclass
class _Step:
    """One dependency (or the endpoint) and where each of its arguments comes from."""

    call: Callable[..., Any]
    name: str | None
    cache_key: tuple[Any, ...]
    subs: list[_Step] = field(default_factory=list)
    path: list[_Param] = field(default_factory=list)
    query: list[_Param] = field(default_factory=list)
    request_name: str | None = None
    scopes_name: str | None = None
    scopes: list[str] = field(default_factory=list)
    use_cache: bool = True  # one call per request for the same dependency and scopes


class _Unanswered(Exception):
    """A parameter did not validate: FastAPI answers the request."""


_MISSING = object()


def _is_async(call: Callable[..., Any]) -> bool:
    if inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call):
        return False
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - callable instances (security schemes)
    )


def _oauth_scopes(dependant: Dependant) -> list[str]:
    """The scopes a ``SecurityScopes`` argument receives (as FastAPI computes them)."""
    scopes = list(dependant.parent_oauth_scopes or [])
    for scope in dependant.own_oauth_scopes or []:
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def _params(fields: Sequence[Any], where: str, route: str) -> list[_Param]:
    from fastapi._compat import field_annotation_is_sequence

    params = []
    for model_field in fields:
        annotation = model_field.field_info.annotation
        if field_annotation_is_sequence(annotation) or (
            inspect.isclass(annotation) and hasattr(annotation, "model_fields")
        ):
            raise NotEligible(f"{route}: {where} parameter {model_field.name} is not a scalar")
        if model_field.field_info.validation_alias not in (None, model_field.alias):
            raise NotEligible(f"{route}: {where} parameter {model_field.name} has alias choices")
        required = model_field.field_info.is_required()
        default = None if required else model_field.default
        params.append(
            _Param(
                model_field.name,
                model_field.alias,
                model_field,
                required,
                default,
                isinstance(default, _IMMUTABLE),
            )
        )
    return params


def _plan(dependant: Dependant, route: str) -> _Step:
    call = dependant.call
    if call is None or not _is_async(call):
        name = getattr(call, "__name__", call)
        raise NotEligible(f"{route}: {name} is not an async function (nor a generator)")
    unsupported = {
        "header": dependant.header_params,
        "cookie": dependant.cookie_params,
        "body": dependant.body_params,
        "background tasks": dependant.background_tasks_param_name,
        "response": dependant.response_param_name,
        "websocket": dependant.websocket_param_name,
        "connection": dependant.http_connection_param_name,
    }
    used = [kind for kind, value in unsupported.items() if value]
    if used:
        raise NotEligible(f"{route}: {', '.join(used)} parameters are left to FastAPI")
    scopes = _oauth_scopes(dependant)
    return _Step(
        call=call,
        name=dependant.name,
        cache_key=(call, tuple(sorted(set(scopes)))),
        subs=[_plan(sub, route) for sub in dependant.dependencies],
        path=_params(dependant.path_params, "path", route),
        query=_params(dependant.query_params, "query", route),
        request_name=dependant.request_param_name,
        scopes_name=dependant.security_scopes_param_name,
        scopes=scopes,
        use_cache=dependant.use_cache,
    )


_IMMUTABLE = (type(None), bool, int, float, str, bytes)


def _validated(param: _Param, value: Any, where: str) -> Any:
    if value is None:
        if param.required:
            raise _Unanswered
        default = param.default if param.shared_default else deepcopy(param.default)
        if not param.field.field_info.validate_default:
            return default
        value = default
    result, errors = param.field.validate(value, {}, loc=(where, param.alias))
    if errors:
        raise _Unanswered
    return result


async def _solve(step: _Step, request: Request, cache: dict[tuple[Any, ...], Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for sub in step.subs:
        value = cache.get(sub.cache_key, _MISSING) if sub.use_cache else _MISSING
        if value is _MISSING:
            value = await _solve(sub, request, cache)
            cache.setdefault(sub.cache_key, value)
        if sub.name is not None:
            kwargs[sub.name] = value
    if step.path:
        path_params = request.path_params
        for param in step.path:
            kwargs[param.name] = _validated(param, path_params.get(param.alias), "path")
    if step.query:
        query_params = request.query_params
        for param in step.query:
            kwargs[param.name] = _validated(param, query_params.get(param.alias), "query")
    if step.request_name:
        kwargs[step.request_name] = request
    if step.scopes_name:
        kwargs[step.scopes_name] = SecurityScopes(scopes=step.scopes)
    return await step.call(**kwargs)


@dataclass(frozen=True)
class FastRoute:
    route: APIRoute
    plan: _Step
    static_path: str | None  # the path when the template has no parameters


def fast_routes(routers: Iterable[APIRouter], operation_ids: Iterable[str]) -> list[FastRoute]:
    """The fast-path plans of these GET operations (by ``operationId``), found in the
    routers as they were declared; raises :class:`NotEligible` for an unknown id or a
    route whose parameters the plan cannot resolve."""
    wanted = set(operation_ids)
    found: list[FastRoute] = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or route.operation_id not in wanted:
                continue
            if route.methods != {"GET"}:
                raise NotEligible(f"{route.path}: only GET routes take the fast path")
            static = route.path if not route.param_convertors else None
            found.append(FastRoute(route, _plan(route.dependant, route.path), static))
            wanted.discard(route.operation_id)
    if wanted:
        raise NotEligible(f"no such GET operation: {', '.join(sorted(wanted))}")
    return found


@dataclass
class FastReadStats:
    """How many requests to the planned routes the fast path answered, and how many it
    handed to FastAPI (on ``/metrics`` as ``http_server_fast_reads_total``)."""

    answered: int = 0
    handed_on: int = 0


class FastReadCollector:
    """Prometheus collector of :class:`FastReadStats`."""

    def __init__(self, stats: FastReadStats) -> None:
        self.stats = stats

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(
            "http_server_fast_reads",
            "Requests to the fast-path routes: answered by the fast path, or handed to FastAPI",
            labels=["result"],
        )
        family.add_metric(["answered"], self.stats.answered)
        family.add_metric(["handed_on"], self.stats.handed_on)
        yield family


class FastReads:
    """ASGI middleware: answers the planned routes' successful GETs itself, hands every
    other request (and every request it cannot answer exactly) to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        fastapi: FastAPI,
        routes: Sequence[FastRoute],
        stats: FastReadStats | None = None,
    ) -> None:
        self.app = app
        self.fastapi = fastapi
        self.stats = stats or FastReadStats()
        self.static = {r.static_path: r for r in routes if r.static_path is not None}
        self.templated = [r for r in routes if r.static_path is None]

    async def _handled(self, request: Request, exc: Exception) -> Response | None:
        """The response of the app's exception handler for ``exc`` (looked up as
        Starlette's exception middleware does), or None when it has none."""
        handlers = self.fastapi.exception_handlers
        handler = None
        if isinstance(exc, StarletteHTTPException):
            handler = handlers.get(exc.status_code)
        if handler is None:
            handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is None:
            return None
        response = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        return response if isinstance(response, Response) else None

    def _match(self, path: str) -> tuple[FastRoute, dict[str, Any]] | None:
        found = self.static.get(path)
        if found is not None:
            return found, {}
        for candidate in self.templated:
            matched = candidate.route.path_regex.match(path)
            if matched:
                convertors = candidate.route.param_convertors
                params = {k: convertors[k].convert(v) for k, v in matched.groupdict().items()}
                return candidate, params
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or self.fastapi.dependency_overrides  # tests replace dependencies: FastAPI's job
        ):
            await self.app(scope, receive, send)
            return
        matched = self._match(scope["path"])
        if matched is None:
            await self.app(scope, receive, send)
            return
        fast, path_params = matched
        route = fast.route
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = path_params
        request = Request(scope, receive)
        try:
            response = await _solve(fast.plan, request, {})
        except _Unanswered:
            response = None
        except Exception as exc:
            # A dependency or the endpoint refused (no token, not found, database down
            # …): answered by the app's handler for it, as FastAPI would answer it.
            response = await self._handled(request, exc)
        if not isinstance(response, Response):
            # A parameter did not validate (FastAPI reports them all, each with its
            # reason), or an error without a handler: FastAPI runs the request from the
            # start and answers as it always does.
            self.stats.handed_on += 1
            await self.app(scope, receive, send)
            return
        self.stats.answered += 1
        await response(scope, receive, send)
