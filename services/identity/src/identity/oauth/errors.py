"""OAuth 2.0 / OIDC protocol errors (RFC 6749 §5.2, RFC 6750, OIDC Core §3.1.2.6).

Protocol endpoints answer ``{"error", "error_description"}`` as the standards require;
the body also carries the RFC 9457 members (``type``, ``title``, ``status``, ``detail``)
so generic clients of the platform read it like every other error.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from servicekit.errors import problem_type

STATUS = {
    "invalid_request": 400,
    "invalid_client": 401,
    "invalid_grant": 400,
    "unauthorized_client": 400,
    "unsupported_grant_type": 400,
    "unsupported_token_type": 400,
    "invalid_scope": 400,
    "invalid_token": 401,
    "insufficient_scope": 403,
    "login_required": 400,
    "access_denied": 403,
    "invalid_request_object": 400,
    "invalid_request_uri": 400,
    "invalid_client_metadata": 400,
    "invalid_redirect_uri": 400,
    "server_error": 500,
}


class OAuthError(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status or STATUS.get(error, 400)
        self.headers = headers or {}

    def response(self, www_authenticate: str | None = None) -> JSONResponse:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **self.headers}
        if self.status == 401:
            headers["WWW-Authenticate"] = www_authenticate or 'Basic realm="samen"'
        elif self.status == 403 and www_authenticate:
            # A bearer token without the scope needed is challenged too (RFC 6750 §3).
            headers["WWW-Authenticate"] = www_authenticate
        body = {
            "error": self.error,
            "error_description": self.description,
            "type": problem_type(f"oauth-{self.error.replace('_', '-')}"),
            "title": self.error,
            "status": self.status,
            "detail": self.description,
        }
        return JSONResponse(body, status_code=self.status, headers=headers)


class RedirectError(Exception):
    """An authorization error that may be sent back to the (validated) redirect URI.

    ``redirect_uri``, ``state`` and ``response_mode`` are the request's, once known (a
    request object's, not the query's)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect_uri: str | None = None
        self.state: str | None = None
        self.response_mode: str | None = None


class PageError(Exception):
    """An authorization error shown as a page: no redirect (no open redirect)."""

    def __init__(self, nl: str, en: str, error: str = "invalid_request") -> None:
        super().__init__(en)
        self.nl = nl
        self.en = en
        # The OAuth error code where the same problem is answered as JSON (/auth/par).
        self.error = error
