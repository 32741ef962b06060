"""The operations every domain's resources share — read one, change with If-Match, delete,
create, a page — declared from what differs between them: once for a resource its path,
model, identifiers and who reads and writes it, then a call for each operation.

    offerings = Routes(
        router, "/v1/offerings/{offeringId}", OfferingOut, OfferingId,
        readers=PublicReader, writers=Writer,
    )
    offerings.create(service.create_offering, OfferingCreate, "createOffering", "Register one")
    offerings.read(service.get_offering, "getOffering", "Read an offering")

The service functions have one shape: ``(session, principal, *identifiers, …)`` for writes and
``(session, *identifiers)`` for reads (``(session, *identifiers, [filters,] params)`` for a
page of a collection), with identifiers in the path's order; a write gives its result with
its ETag (``tagged_response``). Anything else (lists kept by the read cache, actions with
their own answers) stays an ordinary FastAPI endpoint in the router.

Each endpoint is an ordinary async function whose parameters FastAPI reads from its
signature (PEP 362 ``__signature__``): the annotations are the same ``Annotated``
dependencies and path types a hand-written endpoint would declare.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel

from .auth import ANONYMOUS_ALLOWED, Principal
from .db import SessionDep
from .http import IfMatch, IfMatchDep, OptionalIfMatchDep
from .idempotency import created
from .pagination import Page, PageDep, PageParams
from .responses import error_responses, json_response, no_content, page_response, tagged_response

Handler = Callable[..., Awaitable[Response]]


def endpoint(name: str, run: Handler, **parameters: Any) -> Handler:
    """An async endpoint called ``name`` taking ``parameters`` (name → annotation), each
    passed to ``run`` by keyword."""

    async def call(**values: Any) -> Response:
        return await run(**values)

    call.__name__ = call.__qualname__ = name
    documented: Any = call
    documented.__signature__ = inspect.Signature(
        [
            inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
            for key, annotation in parameters.items()
        ],
        return_annotation=Response,
    )
    return call


def allows_anonymous(caller: Any) -> bool:
    """Whether a caller dependency (``Annotated[Principal | None, Security(…)]``) lets
    requests without a token through."""
    principal_type = get_args(caller)[0]
    return type(None) in get_args(principal_type)


class Routes:
    """The standard operations on the resource at ``path``, answered as ``model``.

    A ``path`` that ends in a parameter names one item (``/v1/offerings/{offeringId}``):
    read, change and delete act on it, page and create on its collection (the path without
    its last segment, ``/v1/offerings``). Any other path is one collection or one resource
    (``/v1/organisations/{organisationId}/costs``) that every operation acts on.
    ``identifiers``: the annotated types of the path's parameters, in the path's order.
    ``readers`` may page and read, ``writers`` may create, change and delete: caller
    dependencies (``Annotated[Principal, Security(…)]``); declaring an operation for callers
    the routes were not given is an error.

    Every operation takes its ``operation_id``, ``summary`` and, when it needs more words, a
    ``description`` for the OpenAPI document. ``uses``: further dependencies (name →
    annotation, e.g. the app's settings) given to the service function by keyword."""

    def __init__(
        self,
        router: APIRouter,
        path: str,
        model: type[BaseModel],
        *identifiers: Any,
        readers: Any = None,
        writers: Any = None,
    ) -> None:
        names = re.findall(r"{(\w+)}", path)
        if len(names) != len(identifiers):
            raise TypeError(f"{path} has {len(names)} parameters, given {len(identifiers)} types")
        self.router = router
        self.model = model
        self.callers = {"readers": readers, "writers": writers}
        self.item = Place(path, dict(zip(names, identifiers, strict=True)))
        parent = path.rsplit("/", 1)[0] if path.endswith("}") else path
        ids = self.item.identifiers
        self.collection = Place(parent, {key: ids[key] for key in ids if f"{{{key}}}" in parent})

    def caller(self, kind: str) -> Any:
        """The ``readers`` or the ``writers``, which the operation being declared needs."""
        caller = self.callers[kind]
        if caller is None:
            raise TypeError(f"Routes of {self.item.path} were given no {kind}")
        return caller

    def add(
        self,
        place: Place,
        method: str,
        run: Handler,
        parameters: dict[str, Any],
        operation_id: str,
        summary: str,
        description: str | None,
        **documentation: Any,
    ) -> None:
        self.router.add_api_route(
            place.path,
            endpoint(operation_id, run, **parameters),
            methods=[method],
            operation_id=operation_id,
            summary=summary,
            description=description,
            **documentation,
        )

    def read(
        self,
        load: Callable[..., Awaitable[BaseModel | tuple[BaseModel, str]]],
        operation_id: str,
        summary: str,
        *,
        description: str | None = None,
        source: Any = SessionDep,
        view: Any = None,
        with_caller: bool = False,
        uses: dict[str, Any] | None = None,
    ) -> None:
        """GET: ``load(source, *identifiers)``, with its ETag when it gives one; ``source`` is
        the session or the read-only :class:`~servicekit.db.Database`. Open to anonymous
        callers when the readers allow them. ``with_caller``: what is visible depends on who
        asks, ``load(source, principal, *identifiers)``; ``view``: a dependency telling what
        this caller may see, given to ``load`` before the identifiers."""
        place, caller = self.item, self.caller("readers")

        async def run(source: Any, caller: Principal | None, **values: Any) -> Response:
            ids, further = place.arguments(values, uses)
            answer = await load(*leading(source, caller, values, with_caller), *ids, **further)
            return tagged_response(answer) if isinstance(answer, tuple) else json_response(answer)

        parameters = {"source": source, "caller": caller, **optional(view=view)}
        self.add(
            place,
            "GET",
            run,
            {**parameters, **place.identifiers, **(uses or {})},
            operation_id,
            summary,
            description,
            response_model=self.model,
            openapi_extra=ANONYMOUS_ALLOWED if allows_anonymous(caller) else None,
        )

    def page(
        self,
        load: Callable[..., Awaitable[tuple[Sequence[BaseModel], int]]],
        operation_id: str,
        summary: str,
        *,
        description: str | None = None,
        view: Any = None,
        with_caller: bool = False,
        filters: Any = None,
    ) -> None:
        """GET a page of the collection: ``load(session, *identifiers, params)`` gives the
        page's items and the total (``view``, when given, goes after the session as in
        :meth:`read`; so does the principal ``with_caller``). ``filters``: a dependency
        reading the list's query parameters into what the service filters by, given to
        ``load`` before ``params``."""
        place, caller = self.collection, self.caller("readers")

        async def run(
            request: Request,
            session: Any,
            caller: Principal | None,
            params: PageParams,
            **values: Any,
        ) -> Response:
            # A filter may be None itself (nothing to filter by).
            chosen = (values["filters"],) if "filters" in values else ()
            first = leading(session, caller, values, with_caller)
            items, total = await load(*first, *place.ids(values), *chosen, params)
            return page_response(request, items, total, params)

        parameters = {"request": Request, "session": SessionDep, "caller": caller}
        self.add(
            place,
            "GET",
            run,
            {
                **parameters,
                **optional(view=view),
                **place.identifiers,
                **optional(filters=filters),
                "params": PageDep,
            },
            operation_id,
            summary,
            description,
            # Page of a model known at run time, which a type checker cannot follow.
            response_model=Page[self.model],  # type: ignore[name-defined]
            openapi_extra=ANONYMOUS_ALLOWED if allows_anonymous(caller) else None,
        )

    def change(
        self,
        update: Callable[..., Awaitable[tuple[BaseModel, str]]],
        patch: type[BaseModel],
        operation_id: str,
        summary: str,
        *,
        description: str | None = None,
        errors: tuple[int, ...] = (412, 428),
        uses: dict[str, Any] | None = None,
        method: str = "PATCH",
    ) -> None:
        """PATCH (or ``method``, e.g. PUT) with a required If-Match: ``update(session,
        principal, *identifiers, patch, if_match)``."""
        place, caller = self.item, self.caller("writers")

        async def run(
            session: Any, caller: Principal, if_match: IfMatch, patch: BaseModel, **values: Any
        ) -> Response:
            ids, further = place.arguments(values, uses)
            return tagged_response(await update(session, caller, *ids, patch, if_match, **further))

        parameters = {"if_match": IfMatchDep, "session": SessionDep, "caller": caller}
        self.add(
            place,
            method,
            run,
            {**parameters, **place.identifiers, "patch": Annotated[patch, Body()], **(uses or {})},
            operation_id,
            summary,
            description,
            response_model=self.model,
            responses=error_responses(*errors),
        )

    def delete(
        self,
        remove: Callable[..., Awaitable[object]],
        operation_id: str,
        summary: str,
        *,
        description: str | None = None,
        errors: tuple[int, ...] = (412,),
        conditional: bool = True,
    ) -> None:
        """DELETE, If-Match honoured when sent: ``remove(session, principal, *identifiers,
        if_match)``; 204. Not ``conditional`` (a tie without a revision of its own): no
        If-Match, ``remove(session, principal, *identifiers)``."""
        place, caller = self.item, self.caller("writers")

        async def run(
            session: Any, caller: Principal, if_match: IfMatch | None = None, **values: Any
        ) -> Response:
            condition = () if if_match is None else (if_match,)
            await remove(session, caller, *place.ids(values), *condition)
            return no_content()

        header = {"if_match": OptionalIfMatchDep} if conditional else {}
        self.add(
            place,
            "DELETE",
            run,
            {"session": SessionDep, **header, "caller": caller, **place.identifiers},
            operation_id,
            summary,
            description,
            status_code=204,
            responses=error_responses(*errors),
        )

    def create(
        self,
        make: Callable[..., Awaitable[Any]],
        body: type[BaseModel],
        operation_id: str,
        summary: str,
        *,
        description: str | None = None,
        errors: tuple[int, ...] = (409, 422),
        named_by: str = "id",
        uses: dict[str, Any] | None = None,
        responses: dict[str, Any] | None = None,
    ) -> None:
        """POST to the collection, at most once per Idempotency-Key: ``make(session,
        principal, *identifiers, body)``; 201 with the new item's Location (the collection's
        path / the answer's ``named_by`` member). ``responses``: further OpenAPI responses
        beside the errors."""
        place, caller = self.collection, self.caller("writers")

        async def run(
            request: Request, session: Any, caller: Principal, body: BaseModel, **values: Any
        ) -> Response:
            ids, further = place.arguments(values, uses)
            collection = place.path.format(**values)
            return await created(
                request,
                caller,
                lambda: make(session, caller, *ids, body, **further),
                lambda out: f"{collection}/{getattr(out, named_by)}",
            )

        parameters = {"request": Request, "session": SessionDep, "caller": caller}
        self.add(
            place,
            "POST",
            run,
            {**parameters, **place.identifiers, "body": body, **(uses or {})},
            operation_id,
            summary,
            description,
            status_code=201,
            response_model=self.model,
            responses=error_responses(*errors, **(responses or {})),
        )


@dataclass(frozen=True)
class Place:
    """A path that operations act on, with its parameters in order (name → annotation)."""

    path: str
    identifiers: dict[str, Any]

    def ids(self, values: dict[str, Any]) -> list[Any]:
        return [values[key] for key in self.identifiers]

    def arguments(
        self, values: dict[str, Any], uses: dict[str, Any] | None
    ) -> tuple[list[Any], dict[str, Any]]:
        """The identifiers in the path's order, and the further dependencies by name."""
        return self.ids(values), {key: values[key] for key in uses or {}}


def optional(**parameters: Any) -> dict[str, Any]:
    """The parameters that are given (not None)."""
    return {key: value for key, value in parameters.items() if value is not None}


def leading(
    source: Any, caller: Principal | None, values: dict[str, Any], with_caller: bool
) -> list[Any]:
    """What a read gives the service before the identifiers: the session or database, the
    principal when what is visible depends on who asks, and the caller's view when given."""
    first = [source, caller] if with_caller else [source]
    return [*first, values["view"]] if "view" in values else first
