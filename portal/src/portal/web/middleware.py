"""Loads the server-side session for a request and writes it back before the answer
starts (so the cookie can be set on the same answer)."""

from __future__ import annotations

from http.cookies import SimpleCookie

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..sessions.service import SessionStore

SKIP = ("/static/", "/health/", "/metrics")


class SessionMiddleware:
    def __init__(
        self, app: ASGIApp, store: SessionStore, cookie: str, secure: bool, max_age: int
    ) -> None:
        self.app = app
        self.store = store
        self.cookie = cookie
        self.secure = secure
        self.max_age = max_age

    def _cookie(self, value: str, max_age: int) -> str:
        jar: SimpleCookie = SimpleCookie()
        jar[self.cookie] = value
        morsel = jar[self.cookie]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        morsel["max-age"] = str(max_age)
        if self.secure:
            morsel["secure"] = True
        return morsel.OutputString()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(SKIP):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session = await self.store.load(connection.cookies.get(self.cookie))
        scope.setdefault("state", {})["session"] = session

        async def save_then_send(message: Message) -> None:
            if message["type"] == "http.response.start" and session.dirty:
                await self.store.save(session)
                headers = MutableHeaders(scope=message)
                if session.ended:
                    headers.append("set-cookie", self._cookie("", 0))
                elif session.id:
                    headers.append("set-cookie", self._cookie(session.id, self.max_age))
            await send(message)

        await self.app(scope, receive, save_then_send)
