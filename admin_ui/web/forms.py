"""Reading a submitted form: a bounded `application/x-www-form-urlencoded` body (or a
`multipart/form-data` one carrying uploaded files, parsed by Starlette from the bounded
bytes), each field at most once, and the session's CSRF token checked before anything
else is read."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message

from admin_ui.errors import FieldError

__all__ = [
    "MAX_FORM_BYTES",
    "MAX_FORM_FIELDS",
    "MAX_UPLOAD_FILES",
    "BadForm",
    "CsrfRefused",
    "Form",
    "read_form",
]

MAX_FORM_BYTES = 1024 * 1024  # a pasted container document fits; more is refused (413)
MAX_FORM_FIELDS = 200  # fields of one url-encoded form; more is refused (400)
MAX_UPLOAD_FILES = 4  # an upload form sends a template package's few files
_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


class BadForm(Exception):
    """The body is not a form this UI sends; `status` is 413 or 400."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class CsrfRefused(Exception):
    """The form's CSRF token is missing or not the session's (403, nothing changed)."""


class Form:
    """The fields of one submitted form."""

    def __init__(
        self, values: dict[str, list[str]], files: dict[str, bytes] | None = None
    ) -> None:
        self._values = values
        self._files = files or {}

    def names(self) -> list[str]:
        """Every field name sent, in order (forms whose fields the page made up, such as
        the condition builder's)."""
        return list(self._values)

    def file(self, name: str) -> bytes | None:
        """An uploaded file's bytes (None: no file chosen for the field)."""
        return self._files.get(name)

    def get(self, name: str, default: str = "") -> str:
        found = self._values.get(name)
        if not found:
            return default
        if len(found) > 1:
            raise FieldError(name, "given more than once")
        return found[0]

    def required(self, name: str) -> str:
        value = self.get(name).strip()
        if not value:
            raise FieldError(name, "is required")
        return value

    def all(self, name: str) -> list[str]:
        """Every value of a field that may repeat (a group of checkboxes)."""
        return list(self._values.get(name, []))

    def checked(self, name: str) -> bool:
        return self.get(name) in ("on", "1", "true")


async def read_form(request: Request, csrf: str | None) -> Form:
    """The form of a POST; `csrf` is the session's token (None before sign-in, where the
    sign-in form carries its own pre-session token checked by the caller)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in (_URLENCODED, _MULTIPART):
        raise BadForm(400, f"send the form as {_URLENCODED} (or {_MULTIPART} with files)")
    body = await _bounded_body(request)
    if media == _MULTIPART:
        form = await _multipart(request, body)
    else:
        try:
            values = parse_qs(body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=MAX_FORM_FIELDS, strict_parsing=False,
                              errors="strict")  # fmt: skip
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadForm(400, f"the form is not valid UTF-8 url-encoded text: {exc}") from None
        form = Form(values)
    if csrf is not None:
        given = form.all("csrf") or [""]
        if len(given) != 1 or not hmac.compare_digest(given[0].encode(), csrf.encode()):
            raise CsrfRefused("the form's security token is missing or stale")
    return form


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise BadForm(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadForm(413, f"the form is larger than {MAX_FORM_BYTES} bytes")
    return body


async def _multipart(request: Request, body: bytes) -> Form:
    """A multipart form from its bytes, read at most MAX_FORM_BYTES: Starlette's parser
    over a replay of them, with the number of fields and files bounded."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        parsed = await Request(request.scope, replay).form(
            max_files=MAX_UPLOAD_FILES, max_fields=20, max_part_size=MAX_FORM_BYTES
        )
    except HTTPException as exc:
        raise BadForm(400, f"the upload is not a form this page sends: {exc.detail}") from None
    values: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    try:
        for name, item in parsed.multi_items():
            if isinstance(item, UploadFile):
                if name in files:
                    raise FieldError(name, "given more than once")
                data = await item.read()
                if item.filename:  # a file input left empty sends an unnamed empty part
                    files[name] = data
            else:
                values.setdefault(name, []).append(item)
    finally:
        await parsed.close()
    return Form(values, files)
