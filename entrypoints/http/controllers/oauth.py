"""Connecting a mailbox by signing in with its OAuth2 provider (application.accounts.consent)."""

from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dishka.integrations.litestar import FromDishka, inject
from litestar import Controller, Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Redirect

from application.accounts.consent import FinishConsent, StartConsent
from domain.auth import Principal
from domain.errors import InvalidInput
from entrypoints.http.openapi import problems
from entrypoints.http.schemas.oauth import ConsentOut, ConsentStart, ConsentStartOut

Provider = Annotated[str, PathParameter(description="a provider configured by MAILROOM_OAUTH_PROVIDERS", max_length=32)]


class ConsentStartController(Controller):
    path = "/api/oauth"
    tags = ["oauth"]

    @post(
        "/{provider:str}/start",
        status_code=200,
        operation_id="startOauthSignIn",
        summary="Start connecting a mailbox by signing in with its provider",
        description="Answers the provider's sign-in address for the caller: send the user's browser there. After "
        "consent the provider sends the browser to `GET /api/oauth/{provider}/callback`, which creates the account "
        "(or, for an address the caller already manages, switches it to the new sign-in) with the provider's IMAP and "
        "SMTP servers. The `state` is good for 15 minutes and only for the caller; the address is not to be shared. "
        "404 for a provider the deployment has not configured.",
        responses=problems(404),
    )
    @inject
    async def start(
        self,
        provider: Provider,
        data: JSONBody[ConsentStart],
        principal: FromDishka[Principal],
        start: FromDishka[StartConsent],
    ) -> ConsentStartOut:
        started = await start(principal, provider, data.name, data.email, data.redirect_after)
        return ConsentStartOut(authorization_url=started.authorization_url, state=started.state)


class ConsentCallbackController(Controller):
    """Public: the browser arrives from the provider without Mailroom's bearer token; the sealed state says who
    started the sign-in."""

    path = "/api/oauth"
    tags = ["oauth"]

    @get(
        "/{provider:str}/callback",
        operation_id="finishOauthSignIn",
        summary="The provider's redirect back after sign-in (not called by apps)",
        description="Trades the code for tokens and creates or updates the account, then redirects (303) to the "
        "`redirect_after` given at the start with `account_id`, or `error` (`access_denied` when the user declined, "
        "`wrong_mailbox`, `invalid_grant`, `not_allowed`, `conflict`, `server_error`); without `redirect_after` "
        "it answers the account id as JSON, or a problem. A missing, forged or expired `state` is 422.",
        responses=problems(404, 422),
        security=[],
    )
    @inject
    async def callback(
        self,
        provider: Provider,
        finish: FromDishka[FinishConsent],
        sealed: Annotated[str, QueryParameter(name="state", max_length=4096)] = "",
        code: Annotated[str | None, QueryParameter(max_length=4096)] = None,
        error: Annotated[str | None, QueryParameter(max_length=200)] = None,
    ) -> Response[ConsentOut] | Redirect:
        if not sealed:
            raise InvalidInput("state", "is missing")
        finished = await finish(provider, sealed, code, error)
        if finished.redirect_after is not None:
            account = finished.account
            outcome = {"account_id": str(account.id)} if account else {"error": finished.error or "server_error"}
            return Redirect(_with_query(finished.redirect_after, outcome), status_code=303)
        if finished.account is None:
            raise InvalidInput("code", f"the sign-in did not complete: {finished.error}")
        return Response(ConsentOut(account_id=finished.account.id, email=finished.account.email))


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    return urlunsplit(parts._replace(query=urlencode([*query, *extra.items()])))
