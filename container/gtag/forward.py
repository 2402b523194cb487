"""Handing translated hits to `/collect`'s endpoint, in process, as an ASGI request.

So the guards, preview, consent re-enforcement, the PII firewall, the commit and the
`tw_id` and template cookies stay one implementation: the intake only rewrites the
request (path, query naming the container, JSON body) and reads the answer back. The
request keeps its headers (Origin for CORS, Cookie, User-Agent, X-Forwarded-For, Sec-GPC)
and its peer, so `/collect` judges a gtag request as the browser's own. A Measurement
Protocol request is a server's, authenticated by its API secret: it says which visitor it
is about (`SentFor`), and `/collect` takes that instead of the sender's address and agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Scope

from container.collect import SENT_FOR, SentFor

__all__ = ["PASSED_HEADERS", "CollectAnswer", "forward", "ga_cookies"]

# Headers of `/collect`'s answer that the intake's answer carries on.
PASSED_HEADERS = frozenset(
    {b"set-cookie", b"access-control-allow-origin", b"access-control-allow-credentials",
     b"vary", b"retry-after"}
)  # fmt: skip
_REPLACED = frozenset({b"content-type", b"content-length", b"cookie"})
_GA_CLIENT_ID = re.compile(r"[0-9]{1,20}\.[0-9]{1,20}")
_GA_SESSION_ID = re.compile(r"[0-9]{1,20}")


@dataclass(slots=True)
class CollectAnswer:
    """What `/collect` answered: status, headers, and its JSON body (None when empty)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: dict[str, Any] | None


def ga_cookies(
    scope: Scope, measurement_id: str, client_id: str | None, session_id: str | None
) -> dict[str, str]:
    """The Google Analytics cookies gtag.js would have set, for a request that lacks
    them: `_ga` from the client id and `_ga_<stream>` from the session id, in the forms
    the shipped ga4 template reads. Only for ids of gtag.js's form; the caller passes
    them only when a hit grants analytics_storage."""
    present = _cookie_names(scope)
    out = {}
    if client_id and _GA_CLIENT_ID.fullmatch(client_id) and "_ga" not in present:
        out["_ga"] = f"GA1.1.{client_id}"
    session_cookie = f"_ga_{measurement_id.removeprefix('G-')}"
    if session_id and _GA_SESSION_ID.fullmatch(session_id) and session_cookie not in present:
        out[session_cookie] = f"GS1.1.{session_id}"
    return out


def _cookie_names(scope: Scope) -> set[str]:
    names = set()
    for key, value in scope["headers"]:
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                names.add(part.partition("=")[0].strip())
    return names


async def forward(
    collect: ASGIApp,
    scope: Scope,
    container_id: str,
    method: str,
    hits: list[dict[str, Any]],
    cookies: dict[str, str],
    sent_for: SentFor | None = None,
) -> CollectAnswer:
    """Run `/collect?id=CONTAINER` with `hits` as its JSON body (`method` OPTIONS: the
    CORS preflight alone), with `cookies` added before the request's own; `sent_for`:
    the hits come from an authenticated server, about this visitor."""
    body = orjson.dumps(hits) if method == "POST" else b""
    headers = [(k, v) for k, v in scope["headers"] if k not in _REPLACED]
    cookie = "; ".join(
        [f"{name}={value}" for name, value in cookies.items()]
        + [v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie"]
    )
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(body)).encode()))
    inner = {**scope, "method": method, "path": "/collect", "raw_path": b"/collect",
             "query_string": b"id=" + container_id.encode(), "headers": headers}  # fmt: skip
    if sent_for is not None:
        inner[SENT_FOR] = sent_for
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    answer = CollectAnswer(500, [], None)
    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await collect(inner, receive, send)
    payload = b"".join(chunks)
    if payload:
        answer.body = orjson.loads(payload)
    return answer
