"""`/g/collect` (gtag.js) and `/mp/collect` (the Measurement Protocol): raw ASGI apps.

Each reads its request, finds the container that takes the GA4 measurement id, translates
the events into tagwire hits and runs them through `/collect`'s endpoint (forward.py).
The answer names the refused events by position (`line` of a gtag body, `index` of a
Measurement Protocol `events` list) and the parameter the sender wrote; an answer with
nothing refused is an empty 204, which is all gtag.js reads.
"""

from __future__ import annotations

import hmac
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from config.publishing import LIVE
from container.accept_body import BodyError, read_bounded
from container.collect import SentFor
from container.containers import ContainerSet
from container.gtag.forward import PASSED_HEADERS, CollectAnswer, forward, ga_cookies
from container.gtag.lines import RequestRefused, query_params, read_request
from container.gtag.mp import read_mp
from container.gtag.values import CLIENT_ID, SESSION_ID, Refusal, Translation
from container.gtag.web import translate_event
from container.hit import MAX_BODY_BYTES
from container.pipeline import CompiledContainer

__all__ = ["GtagEndpoint", "MeasurementProtocolEndpoint"]

log = logging.getLogger("tagwire.gtag")

_MEASUREMENT_ID = re.compile(r"G-[A-Z0-9]{4,20}")
_GTAG_TYPES = ("", "text/plain", "application/x-www-form-urlencoded")
_MP_TYPES = ("", "application/json", "text/plain")
Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, dict[str, Any] | None]
SecretLookup = Callable[[str, str], "str | None"]


def container_for(containers: ContainerSet, measurement_id: str, param: str) -> CompiledContainer:
    """The live container whose `gtag.measurement_ids` lists the id; exactly one may."""
    if not _MEASUREMENT_ID.fullmatch(measurement_id):
        raise RequestRefused(400, param, "must be a GA4 measurement id like G-ABC123XYZ")
    takers = [compiled for (_, env), compiled in containers.items()
              if env == LIVE and measurement_id in compiled.measurement_ids]  # fmt: skip
    if not takers:
        raise RequestRefused(
            404, param, f"no container on this node takes measurement id {measurement_id!r}"
        )
    if len(takers) > 1:
        names = ", ".join(repr(c.id) for c in takers)
        raise RequestRefused(409, param, f"{measurement_id!r} is listed by containers {names}")
    return takers[0]


class _Intake(ABC):
    """What both endpoints share: reading the body, answering, merging `/collect`'s
    verdicts with the intake's own refusals."""

    position = "line"
    field_names: dict[str, str] = {}

    def __init__(self, collect: ASGIApp, containers: ContainerSet) -> None:
        self.collect = collect
        self.containers = containers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, headers, body = await self.handle(scope, receive)
        except RequestRefused as refused:
            status, headers = refused.status, []
            body = {"errors": [{"field": refused.field, "reason": refused.reason}]}
        except BodyError as error:
            status, headers = error.status, []
            body = {"errors": [{"field": error.field, "reason": error.reason}]}
        if body is None:
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        payload = orjson.dumps(body)
        headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    @abstractmethod
    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        """Read the request and answer it; raises RequestRefused or BodyError."""

    async def run(
        self,
        scope: Scope,
        container: CompiledContainer,
        translations: list[Translation],
        refused: list[Refusal],
        cookies: dict[str, str],
        *,
        sent_for: SentFor | None = None,
    ) -> Answer:
        """The good events through `/collect`; with none, only its CORS verdict, so a
        browser origin it refuses still gets its 403."""
        if translations:
            hits = [t.wire for t in translations]
            answer = await forward(
                self.collect, scope, container.id, "POST", hits, cookies, sent_for
            )
        else:
            answer = await forward(self.collect, scope, container.id, "OPTIONS", [], {})
            if answer.status == 204:
                answer = CollectAnswer(400, answer.headers, {"errors": []})
        return self.merge(container, answer, translations, refused)

    def merge(
        self,
        container: CompiledContainer,
        answer: CollectAnswer,
        translations: list[Translation],
        refused: list[Refusal],
    ) -> Answer:
        headers = [(k, v) for k, v in answer.headers if k in PASSED_HEADERS]
        body = answer.body or {}
        collect_errors = body.get("errors", [])
        if answer.status not in (200, 204, 207) and any("index" not in e for e in collect_errors):
            errors = [{**e, "field": self.field_names.get(e["field"], e["field"])}
                      for e in collect_errors]  # fmt: skip
            return answer.status, headers, {"errors": errors}
        if answer.status in (200, 204):
            accepted = [t.position for t in translations]
        else:
            accepted = [translations[i].position for i in body.get("accepted", [])]
        problems = list(refused)
        for error in collect_errors:
            translation = translations[error["index"]]
            field = translation.source_of(error["field"])
            problems.append(Refusal(translation.position, field, error["reason"]))
        if not problems:
            return 204, headers, None
        problems.sort(key=lambda p: -1 if p.position is None else p.position)
        log.info(
            "gtag events refused",
            extra={"fields": {"container": container.id, "endpoint": type(self).__name__,
                              "refused": len({p.position for p in problems}),
                              "errors": [p.field for p in problems[:10]]}},
        )  # fmt: skip
        errors = [{self.position: p.position, "field": p.field, "reason": p.reason}
                  for p in problems]  # fmt: skip
        if not accepted:
            return 400, headers, {"errors": errors}
        return 207, headers, {"accepted": sorted(accepted), "errors": errors}


class GtagEndpoint(_Intake):
    """`GET|POST|OPTIONS /g/collect`: what gtag.js sends to a server container."""

    position = "line"
    field_names = {"id": "tid"}

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        method = scope["method"]
        if method == "HEAD":
            raise RequestRefused(405, "method", "GET, POST or OPTIONS; HEAD reports nothing")
        body = b""
        if method == "POST":
            _content_type(scope, _GTAG_TYPES)
            body = await read_body(scope, receive)
        request = read_request(scope["query_string"], body)
        container = container_for(self.containers, request.tid, "tid")
        if method == "OPTIONS":
            answer = await forward(self.collect, scope, container.id, "OPTIONS", [], {})
            headers = [(k, v) for k, v in answer.headers if k.startswith(b"access-control-")
                       or k == b"vary"]  # fmt: skip
            return answer.status, headers, answer.body
        translations: list[Translation] = []
        refused = list(request.refused)
        for position, params in request.events:
            translated = translate_event(position, params, request.tid)
            if isinstance(translated, Refusal):
                refused.append(translated)
            else:
                translations.append(translated)
        cookies = {}
        granted = [t for t in translations if CLIENT_ID in t.wire.get("custom", {})]
        if granted:
            custom = granted[0].wire["custom"]
            cookies = ga_cookies(scope, request.tid, custom[CLIENT_ID],
                                 custom.get(SESSION_ID))  # fmt: skip
        return await self.run(scope, container, translations, refused, cookies)


class MeasurementProtocolEndpoint(_Intake):
    """`POST /mp/collect?measurement_id=…&api_secret=…`: GA4's server-to-server format."""

    position = "index"
    field_names = {"id": "measurement_id"}

    def __init__(self, collect: ASGIApp, containers: ContainerSet, secret: SecretLookup) -> None:
        """`secret(container_id, name)` is the node's current value of a container secret."""
        super().__init__(collect, containers)
        self.secret = secret

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        query, broken = query_params(scope["query_string"])
        if broken is not None:
            raise RequestRefused(400, broken, "not percent-encoded UTF-8")
        measurement_id = query.get("measurement_id")
        if not measurement_id:
            raise RequestRefused(400, "measurement_id", "required: the GA4 measurement id")
        container = container_for(self.containers, measurement_id, "measurement_id")
        self._authenticate(container, query.get("api_secret"))
        _content_type(scope, _MP_TYPES)
        request = read_mp(await read_body(scope, receive))
        cookies = {}
        if request.analytics_granted:
            session = next(iter(request.session_ids)) if len(request.session_ids) == 1 else None
            cookies = ga_cookies(scope, measurement_id, request.client_id, session)
        visitor = SentFor(request.ip, "")
        return await self.run(
            scope, container, request.events, request.refused, cookies, sent_for=visitor
        )

    def _authenticate(self, container: CompiledContainer, given: str | None) -> None:
        """The api_secret must equal the container's named secret, compared in constant
        time; a container that names none takes no Measurement Protocol request."""
        if not given:
            raise RequestRefused(400, "api_secret", "required: the stream's API secret")
        name = container.mp_api_secret
        if name is None:
            reason = "takes no Measurement Protocol requests (set gtag.mp_api_secret)"
            raise RequestRefused(403, "api_secret", f"container {container.id!r} {reason}")
        expected = self.secret(container.id, name)
        if expected is None:
            raise RequestRefused(
                403, "api_secret", f"secret {name!r} of container {container.id!r} is not "
                "configured on this node",
            )  # fmt: skip
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            raise RequestRefused(403, "api_secret", "does not match the container's secret")


def _content_type(scope: Scope, allowed: tuple[str, ...]) -> None:
    for key, value in scope["headers"]:
        if key == b"content-type":
            media = value.decode("latin-1").split(";", 1)[0].strip().lower()
            if media not in allowed:
                listed = ", ".join(a for a in allowed if a)
                raise RequestRefused(415, "Content-Type", f"must be {listed} or absent")
            return


async def read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole body, refused as soon as it is larger than `/collect` takes."""
    declared = next((v.decode("latin-1") for k, v in scope["headers"]
                     if k == b"content-length"), None)  # fmt: skip
    return await read_bounded(receive, declared, MAX_BODY_BYTES)
