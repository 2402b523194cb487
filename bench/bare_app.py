"""The baseline: a bare Starlette endpoint that parses the same JSON and answers 204."""

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def collect(request: Request) -> Response:
    hit = orjson.loads(await request.body())
    if not isinstance(hit, dict) or "event" not in hit:
        return Response(status_code=400)
    return Response(status_code=204)


app = Starlette(routes=[Route("/collect", collect, methods=["POST"])])
