"""The admin API: `tagwire outbox …` and `tagwire history` over authenticated JSON.

For the admin UI and scripts that cannot run the CLI on the node. It takes the CLI's
filters (same names, same time forms) as query fields (GET) or a JSON object (POST),
and answers JSON. Callers authenticate with an admin token: a token made by
`tagwire tokens create --admin`, stored like Fire API tokens (hashed) under the container
id `*`, which no container can have. A container's Fire API token gets 403 here.

An admin token limited to one client (`tagwire tokens create --admin --client ID`, owner
`*ID`) acts only on that client's containers: each of its requests must name a
`container` of the client, and anything else (no container, an unknown one, one of
another client) gets the same 403, so it cannot tell whether another client's container
exists. See docs/operations.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from admin_ui.audit import Actor
from admin_ui.errors import FieldError
from admin_ui.filters import check_text, filter_fields
from admin_ui.history import history, history_record
from admin_ui.outbox_ops import PURGE_STATES, REPLAY_STATES, OperatedOutbox, OutboxOps
from admin_ui.times import now_ms, parse_time
from config.storage import STATES, HistoryStore, OutboxFilter, StorageError, TokenRecord, TokenStore
from config.tokens import TokenRefused, admin_token, token_client

__all__ = ["PREFIX", "AdminEndpoint"]

log = logging.getLogger("tagwire.admin")

PREFIX = "/api/v1"
MAX_BODY_BYTES = 16_384
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000
_FILTERS = ("container", "tag", "platform", "event", "lead_id", "since", "until")

Clock = Callable[[], int]


class _Refusal(Exception):
    """Ends a request with a status and one error naming the field."""

    def __init__(
        self, status: int, field: str, reason: str, headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = {"errors": [{"field": field, "reason": reason}]}
        self.headers = headers or {}


class _Fields:
    """A request's fields (query or JSON body), read once each by name and type."""

    def __init__(self, values: Mapping[str, Any], allowed: tuple[str, ...], query: bool) -> None:
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise FieldError(unknown[0], f"unknown field; known: {', '.join(allowed)}")
        self._values = values
        self._query = query

    def _one(self, name: str) -> Any:
        value = self._values.get(name)
        if self._query and value is not None:
            if len(value) > 1:
                raise FieldError(name, "given more than once")
            return value[0]
        return value

    def text(self, name: str) -> str | None:
        value = self._one(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise FieldError(name, "must be a string")
        try:
            return check_text(value)
        except ValueError as exc:
            raise FieldError(name, str(exc)) from None

    def time(self, name: str, now: int) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return parse_time(value, now)
        except ValueError as exc:
            raise FieldError(name, str(exc)) from None

    def flag(self, name: str) -> bool:
        value = self._one(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise FieldError(name, "must be true or false")
        return value

    def integer(self, name: str, low: int, high: int) -> int | None:
        value = self._one(name)
        if value is None:
            return None
        if self._query and isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise FieldError(name, f"must be a whole number from {low} to {high}")
        return value

    def states(self, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = self._values.get(name)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise FieldError(name, "must be a state or a list of states")
        for item in items:
            if item not in allowed:
                raise FieldError(name, f"must be one of {', '.join(allowed)}")
        return tuple(dict.fromkeys(items))

    def filter(self, now: int, states: tuple[str, ...] = (), until: str = "until") -> OutboxFilter:
        since_ms = self.time("since", now)
        until_ms = self.time(until, now)
        if since_ms is not None and until_ms is not None and since_ms >= until_ms:
            raise FieldError(until, "must be later than since")
        return OutboxFilter(
            container_id=self.text("container"),
            tag_id=self.text("tag"),
            platform=self.text("platform"),
            event_name=self.text("event"),
            lead_id=self.text("lead_id"),
            states=states,
            since_ms=since_ms,
            until_ms=until_ms,
        )


Handler = Callable[[_Fields, Actor], Awaitable[dict[str, Any]]]


class ContainerClients(Protocol):
    """Which client a container belongs to (from `AccountStore`): what limits an admin
    token of one client to that client's containers."""

    async def container_client(self, container_id: str) -> str | None: ...


class AdminStore(OperatedOutbox, HistoryStore, TokenStore, ContainerClients, Protocol):
    """What the admin API uses: the outbox operations with their audit log, the history,
    the tokens its callers authenticate with, and the clients of containers."""


class AdminEndpoint:
    """Authenticates admin tokens and runs the outbox and history actions the CLI runs."""

    def __init__(self, store: AdminStore, clock: Clock = now_ms) -> None:
        self._store = store
        self._clock = clock
        self._ops = OutboxOps(store, clock)

    def routes(self) -> list[BaseRoute]:
        post = ["POST"]
        return [
            Route(f"{PREFIX}/outbox/status", self._get(self._status, _FILTERS), methods=["GET"]),
            Route(
                f"{PREFIX}/outbox/replay",
                self._post(self._replay, (*_FILTERS, "state", "dry_run")),
                methods=post,
            ),
            Route(
                f"{PREFIX}/outbox/release",
                self._post(self._release, (*_FILTERS, "dry_run")),
                methods=post,
            ),
            Route(
                f"{PREFIX}/outbox/purge",
                self._post(self._purge, (*_FILTERS[:-1], "before", "state", "all", "dry_run")),
                methods=post,
            ),
            Route(
                f"{PREFIX}/history",
                self._get(self._history, (*_FILTERS, "status", "outcome", "limit", "offset")),
                methods=["GET"],
            ),
        ]

    def _get(
        self, handler: Handler, allowed: tuple[str, ...]
    ) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            async def fields() -> _Fields:
                values: dict[str, list[str]] = {}
                for key, value in request.query_params.multi_items():
                    values.setdefault(key, []).append(value)
                return _Fields(values, allowed, query=True)

            return await self._answer(request, fields, handler)

        return endpoint

    def _post(
        self, handler: Handler, allowed: tuple[str, ...]
    ) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            async def fields() -> _Fields:
                return _Fields(await _json_body(request), allowed, query=False)

            return await self._answer(request, fields, handler)

        return endpoint

    async def _answer(
        self, request: Request, fields: Callable[[], Awaitable[_Fields]], handler: Handler
    ) -> Response:
        headers: dict[str, str] = {}
        try:
            token = await self._authenticate(request)
            given = await fields()
            await self._check_scope(token, given)
            status, body = 200, await handler(given, Actor(f"token:{token.name}", "api"))
        except FieldError as exc:
            status, body = 400, {"errors": [{"field": exc.field, "reason": exc.reason}]}
        except _Refusal as refusal:
            status, body, headers = refusal.status, refusal.body, refusal.headers
        except StorageError as exc:
            log.error("admin api store failed", extra={"fields": {"error": str(exc)}})
            status = 503
            body = {"errors": [{"field": "store", "reason": "temporarily unavailable; retry"}]}
            headers = {"retry-after": "5"}
        return Response(orjson.dumps(body), status, headers, media_type="application/json")

    async def _authenticate(self, request: Request) -> TokenRecord:
        try:
            return await admin_token(
                request.headers.get("authorization"), self._store, self._clock()
            )
        except TokenRefused as refused:
            raise _Refusal(
                refused.status, "Authorization", refused.reason, refused.headers
            ) from None

    async def _check_scope(self, token: TokenRecord, fields: _Fields) -> None:
        """A token limited to one client must name one of its containers: refused (403)
        when it names none, an unknown one or another client's, all alike."""
        client = token_client(token)
        if client is None:
            return
        container = fields.text("container")
        if container is None or await self._store.container_client(container) != client:
            raise _Refusal(
                403,
                "container",
                f"this token is limited to client {client!r}: name one of its containers "
                "in the 'container' field",
            )

    async def _status(self, fields: _Fields, actor: Actor) -> dict[str, Any]:
        filter = fields.filter(self._clock())
        return {"filters": filter_fields(filter), **await self._ops.status(filter)}

    async def _replay(self, fields: _Fields, actor: Actor) -> dict[str, Any]:
        states = fields.states("state", REPLAY_STATES) or REPLAY_STATES[:1]
        filter = fields.filter(self._clock(), states)
        dry_run = fields.flag("dry_run")
        rows = await self._ops.replay(filter, dry_run, actor)
        return _changed("replay", filter, dry_run, rows)

    async def _release(self, fields: _Fields, actor: Actor) -> dict[str, Any]:
        filter = fields.filter(self._clock())
        dry_run = fields.flag("dry_run")
        return _changed("release", filter, dry_run, await self._ops.release(filter, dry_run, actor))

    async def _purge(self, fields: _Fields, actor: Actor) -> dict[str, Any]:
        filter = fields.filter(self._clock(), fields.states("state", PURGE_STATES), "before")
        dry_run = fields.flag("dry_run")
        rows = await self._ops.purge(filter, fields.flag("all"), dry_run, actor)
        return _changed("purge", filter, dry_run, rows, "before")

    async def _history(self, fields: _Fields, actor: Actor) -> dict[str, Any]:
        filter = fields.filter(self._clock())
        status = fields.integer("status", 100, 599)
        outcome = fields.text("outcome")
        if outcome is not None and outcome not in STATES:
            raise FieldError("outcome", f"must be one of {', '.join(STATES)}")
        limit = fields.integer("limit", 1, MAX_LIMIT)
        limit = DEFAULT_LIMIT if limit is None else limit
        offset = fields.integer("offset", 0, MAX_OFFSET) or 0
        entries = await history(self._store, filter, limit, offset, status, outcome)
        return {
            "filters": filter_fields(filter),
            "entries": [history_record(entry) for entry in entries],
            "next_offset": offset + limit if len(entries) == limit else None,
        }


def _changed(
    action: str, filter: OutboxFilter, dry_run: bool, rows: int, until: str = "until"
) -> dict[str, Any]:
    return {
        "action": action,
        "dry_run": dry_run,
        "rows": rows,
        "filters": filter_fields(filter, until),
    }


async def _json_body(request: Request) -> dict[str, Any]:
    """The POST body: a JSON object of fields, or nothing at all (no fields)."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise _Refusal(413, "body", f"larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return {}
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise _Refusal(415, "Content-Type", "must be application/json")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FieldError("body", "not valid JSON") from None
    if not isinstance(value, dict):
        raise FieldError("body", "must be a JSON object of fields")
    return value
