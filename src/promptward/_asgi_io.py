"""The ASGI plumbing of GuardMiddleware: type aliases, problem+json answers, body replay, extra headers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Stop(Exception):
    """The request ended early: the client went away, or we already answered."""


def replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replayed


def with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return send_with_headers


async def problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    members: dict[str, Any] | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    close: bool = False,
) -> NoReturn:
    """Answer with an RFC 9457 problem+json body, then stop handling the request.

    `close` asks the server to close the connection: the body was not read, so it cannot be reused.
    """
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail, **(members or {})})
    data = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(data)).encode()),
                *(headers or ()),
                *([(b"connection", b"close")] if close else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
    raise Stop
