"""The admin UI application: routes, the sign-in gate and how refusals become pages.

Every route but sign-in, the reset link and the stylesheet goes through `_gate`: no
session means a redirect to sign-in (GET) or 401 (anything else); a POST must come from
this origin and carry the session's CSRF token (403 otherwise, before the form is even
read); the handler then checks the role it needs on the client it touches.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from admin_ui.errors import ActionError, FieldError, NotConfigured, NotFound
from admin_ui.people import AccessDenied, People, Principal, SignInRefused
from admin_ui.times import now_ms
from admin_ui.versions import Versions
from admin_ui.web.credentials import Credentials, CredentialsStore
from admin_ui.web.forms import BadForm, CsrfRefused, Form, read_form
from admin_ui.web.gallery import Gallery
from admin_ui.web.operations import Operations, OperationsStore
from admin_ui.web.pages import Pages
from admin_ui.web.previews import PreviewPages
from admin_ui.web.render import render
from admin_ui.web.security import SecurityHeaders
from admin_ui.web.tag_editor import TagEditor
from admin_ui.web.template_editor import HitCheck, TemplateEditor
from admin_ui.web.throttle import SignInThrottle
from admin_ui.web.trials import TrialPage
from admin_ui.web.trigger_editor import TriggerEditor
from admin_ui.web.variable_editor import VariableEditor
from config.publishing import PublishError
from config.schema import DocumentError
from config.storage import PreviewStore, SessionRecord, StorageError, UnknownVersion
from tags.trial import RunTrial

__all__ = ["COOKIE", "AdminUI"]

COOKIE = "tw_admin"
PRE_COOKIE = "tw_admin_pre"  # the sign-in form's own CSRF token, before any session

Handler = Callable[[Request, Principal, Form | None], Awaitable[Response]]


class AdminStore(CredentialsStore, OperationsStore, PreviewStore, Protocol):
    """The roles the admin UI reads and changes."""


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _same_origin(request: Request) -> bool:
    """A browser names the page that sent a POST; it must be this site."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin == f"{request.url.scheme}://{request.url.netloc}"


class AdminUI:
    """The ASGI app `tagwire serve` mounts at `/admin` (or `tagwire admin` serves alone)."""

    def __init__(
        self,
        store: AdminStore,
        *,
        signer: Ed25519PrivateKey | None,
        secrets_key: str = "",
        check_hit: HitCheck | None = None,
        test_fire: RunTrial | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        """`signer` signs the versions made here; `secrets_key` (TAGWIRE_SECRETS_KEY)
        seals the secrets set here; `check_hit` checks template tests' hits as `/collect`
        would and `test_fire` runs a test fire on the node's pipeline (the wiring passes
        the data plane's; None: this process has no data plane)."""
        self.people = People(store, clock)
        self.throttle = SignInThrottle()
        pages = Pages(store, self.people, Versions(store, signer=signer, clock=clock))
        credentials = Credentials(store, pages, secrets_key)
        operations = Operations(store, pages)
        gallery = Gallery()
        tags = TagEditor(pages)
        triggers = TriggerEditor(pages, store)
        templates = TemplateEditor(pages, check_hit)
        variables = VariableEditor(pages)
        trials = TrialPage(store, pages, test_fire)
        previews = PreviewPages(store, pages)
        gate = self._gate
        routes = [
            Route("/", gate(pages.home), methods=["GET"]),
            Route("/signin", self.signin_page, methods=["GET"]),
            Route("/signin", self.signin, methods=["POST"]),
            Route("/signout", gate(self.signout), methods=["POST"]),
            Route("/reset/{token}", self.reset_page, methods=["GET"]),
            Route("/reset/{token}", self.reset, methods=["POST"]),
            Route("/clients", gate(pages.clients), methods=["GET"]),
            Route("/clients", gate(pages.create_client), methods=["POST"]),
            Route("/clients/{client}", gate(pages.client), methods=["GET"]),
            Route("/clients/{client}/members", gate(pages.set_member), methods=["POST"]),
            Route("/clients/{client}/members/reset", gate(pages.member_reset), methods=["POST"]),
            Route("/clients/{client}/containers", gate(pages.import_container), methods=["POST"]),
            Route("/containers/{container}", gate(pages.container), methods=["GET"]),
            Route("/containers/{container}/assign", gate(pages.assign), methods=["POST"]),
            Route("/containers/{container}/workspace", gate(pages.workspace), methods=["POST"]),
            Route("/containers/{container}/versions", gate(pages.create_version), methods=["POST"]),
            Route("/containers/{container}/diff", gate(pages.diff), methods=["GET"]),
            Route("/containers/{container}/publish", gate(pages.confirm_publish), methods=["GET"]),
            Route("/containers/{container}/publish", gate(pages.publish), methods=["POST"]),
            Route(
                "/containers/{container}/rollback", gate(pages.confirm_rollback), methods=["GET"]
            ),
            Route("/containers/{container}/rollback", gate(pages.rollback), methods=["POST"]),
            Route(
                "/containers/{container}/secrets", gate(credentials.set_secret), methods=["POST"]
            ),
            Route(
                "/containers/{container}/secrets/delete",
                gate(credentials.delete_secret),
                methods=["POST"],
            ),
            Route(
                "/containers/{container}/tokens", gate(credentials.create_token), methods=["POST"]
            ),
            Route(
                "/containers/{container}/tokens/revoke",
                gate(credentials.revoke_token),
                methods=["POST"],
            ),
            Route(
                "/containers/{container}/environments/remove",
                gate(pages.remove_environment),
                methods=["POST"],
            ),
            Route("/history", gate(operations.history), methods=["GET"]),
            Route("/dead-letters", gate(operations.dead_letters), methods=["GET"]),
            Route("/outbox/{row}", gate(operations.row), methods=["GET"]),
            Route("/dead-letters/replay", gate(operations.replay), methods=["POST"]),
            Route("/dead-letters/release", gate(operations.release), methods=["POST"]),
            Route("/containers/{container}/tags/new", gate(tags.form), methods=["GET"]),
            Route("/containers/{container}/tags", gate(tags.save), methods=["POST"]),
            Route("/containers/{container}/tags/{tag}", gate(tags.form), methods=["GET"]),
            Route(
                "/containers/{container}/tags/{tag}/delete", gate(tags.delete), methods=["POST"]
            ),
            Route("/containers/{container}/tags/{tag}/test", gate(trials.form), methods=["GET"]),
            Route("/containers/{container}/tags/{tag}/test", gate(trials.fire), methods=["POST"]),
            Route("/containers/{container}/triggers/new", gate(triggers.form), methods=["GET"]),
            Route("/containers/{container}/triggers", gate(triggers.save), methods=["POST"]),
            Route(
                "/containers/{container}/triggers/{trigger}", gate(triggers.form), methods=["GET"]
            ),
            Route("/containers/{container}/templates/new", gate(templates.form), methods=["GET"]),
            Route("/containers/{container}/templates", gate(templates.save), methods=["POST"]),
            Route(
                "/containers/{container}/templates/upload",
                gate(templates.upload),
                methods=["POST"],
            ),
            Route(
                "/containers/{container}/templates/{template}",
                gate(templates.form),
                methods=["GET"],
            ),
            Route("/containers/{container}/variables/new", gate(variables.form), methods=["GET"]),
            Route("/containers/{container}/variables", gate(variables.save), methods=["POST"]),
            Route(
                "/containers/{container}/variables/{variable}",
                gate(variables.form),
                methods=["GET"],
            ),
            Route("/containers/{container}/previews", gate(previews.index), methods=["GET"]),
            Route("/containers/{container}/previews", gate(previews.start), methods=["POST"]),
            Route("/previews/{session}", gate(previews.live), methods=["GET"]),
            Route("/previews/{session}/revoke", gate(previews.revoke), methods=["POST"]),
            Route("/previews/{session}/refresh", gate(previews.refresh), methods=["POST"]),
            Route("/previews/{session}/stream", gate(previews.stream), methods=["GET"]),
            Route("/previews/{session}/traces/{trace}", gate(previews.trace), methods=["GET"]),
            Route("/templates", gate(gallery.index), methods=["GET"]),
            Route("/templates/{name}", gate(gallery.template), methods=["GET"]),
            Route("/audit", gate(pages.audit), methods=["GET"]),
            Route("/people", gate(pages.people), methods=["GET"]),
            Route("/people", gate(pages.create_user), methods=["POST"]),
            Route("/people/reset", gate(pages.create_reset), methods=["POST"]),
            Mount(
                "/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"
            ),
        ]
        self.app = SecurityHeaders(Starlette(routes=routes))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def _gate(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def gated(request: Request) -> Response:
            found = await self.people.session(request.cookies.get(COOKIE, ""))
            if found is None:
                if request.method == "GET":
                    return RedirectResponse(f"{request.scope['root_path']}/signin", 303)
                return _problem(request, 401, "Signed out", "Sign in again, then repeat this.")
            principal, session = found
            request.scope["tagwire.principal"] = principal
            request.scope["tagwire.session"] = session
            try:
                form = None
                if request.method == "POST":
                    if not _same_origin(request):
                        raise CsrfRefused("the form was sent from another site")
                    form = await read_form(request, session.csrf)
                return await handler(request, principal, form)
            except CsrfRefused as exc:
                return _problem(request, 403, "Refused", f"{exc}; reload the page and try again.")
            except BadForm as exc:
                return _problem(request, exc.status, "Refused", str(exc))
            except AccessDenied as exc:
                return _problem(request, 403, "Not allowed", str(exc))
            except (NotFound, UnknownVersion) as exc:
                return _problem(request, 404, "Not found", str(exc))
            except DocumentError as exc:
                return _problem(request, 400, "The document has problems", str(exc))
            except NotConfigured as exc:
                return _problem(request, 409, "Not configured on this node", str(exc))
            except (FieldError, PublishError, ActionError) as exc:
                return _problem(request, 400, "Cannot do that", str(exc))
            except StorageError as exc:
                return _problem(request, 409, "Cannot do that", str(exc))

        return gated

    async def signin_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(request, "signin.html", {"pre": token, "error": error}, status)
        response.set_cookie(
            PRE_COOKIE,
            token,
            path=request.scope["root_path"] or "/",
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
        return response

    async def signin(self, request: Request) -> Response:
        pre = request.cookies.get(PRE_COOKIE, "")
        address = request.client.host if request.client else ""
        if not self.throttle.allow(address):
            return await self.signin_page(
                request, "too many sign-in attempts from this address; wait a minute", 429
            )
        try:
            if not _same_origin(request):
                raise CsrfRefused("the form was sent from another site")
            form = await read_form(request, None)
            if not pre or not secrets.compare_digest(form.get("pre"), pre):
                raise CsrfRefused("the sign-in form is stale")
            token, session = await self.people.sign_in(form.get("email"), form.get("password"))
        except CsrfRefused as exc:
            return await self.signin_page(request, f"{exc}; try again.", 403)
        except BadForm as exc:
            return await self.signin_page(request, str(exc), exc.status)
        except (SignInRefused, FieldError) as exc:
            return await self.signin_page(request, str(exc), 401)
        root = request.scope["root_path"]
        response = RedirectResponse(f"{root}/", 303)
        _set_session(request, response, token, session)
        response.delete_cookie(PRE_COOKIE, path=root or "/")
        return response

    async def signout(self, request: Request, me: Principal, form: Form | None) -> Response:
        assert form is not None
        if form.checked("everywhere"):
            await self.people.sign_out_everywhere(me.user.id)
        else:
            await self.people.sign_out(request.cookies.get(COOKIE, ""))
        root = request.scope["root_path"]
        response = RedirectResponse(f"{root}/signin", 303)
        response.delete_cookie(COOKIE, path=root or "/")
        return response

    async def reset_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        return render(request, "reset.html", {"error": error}, status)

    async def reset(self, request: Request) -> Response:
        try:
            if not _same_origin(request):
                raise CsrfRefused("the form was sent from another site")
            form = await read_form(request, None)
            if form.get("password") != form.get("again"):
                raise FieldError("again", "the two passwords differ")
            await self.people.reset_password(request.path_params["token"], form.get("password"))
        except CsrfRefused as exc:
            return await self.reset_page(request, str(exc), 403)
        except BadForm as exc:
            return await self.reset_page(request, str(exc), exc.status)
        except FieldError as exc:
            return await self.reset_page(request, str(exc), 400)
        return await self.signin_page(request, "Password changed: sign in with it.")


def _set_session(request: Request, response: Response, token: str, session: SessionRecord) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path=request.scope["root_path"] or "/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def _problem(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "problem.html", {"title": title, "message": message}, status)
