"""`SameOriginOnly`: a Content-Security-Policy on the HTML pages, so that a browser showing them fetches
nothing from anywhere but this server.

The API docs (/docs, /redoc) load Swagger UI and Redoc from the server itself (the fastapi-offline
package ships them), but Redoc's side menu still shows a logo from Redocly's CDN: the policy keeps the
browser from asking for it (the menu hides a logo that does not load). The docs pages need inline
script and styles (FastAPI's Swagger page starts the UI inline; Redoc injects styles) and a worker from a
``blob:`` URL (Redoc's search); the shop's page needs nothing but its own files.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class SameOriginOnly:
    """ASGI middleware: the policy header on every HTML response (the docs' policy on the docs pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = DOCS_POLICY if path.startswith(DOCS_PATHS) else PAGE_POLICY

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    headers.append((b"content-security-policy", policy.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)
