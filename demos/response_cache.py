"""Serve what every first page load fetches from memory: the gallery's page, its config,
Gradio's built front-end files and the example images. None of them changes while the server
runs (the Blocks are built once), yet Gradio renders the 1.4 MB page and the 1.1 MB config again
for every visitor, opens each of ~140 files again and Brotli-compresses them again: ~0.45 s of
server CPU per first visit on a 2-core machine (bench/page_open.py). A cached response costs
almost nothing; what is left is uvicorn's own work per request.

Only GET responses with status 200, no cookie and no conditional request are kept; the
content-hashed front-end files are also marked immutable, so a returning visitor's browser does
not ask again. The key is what a response depends on: the path, the visitor's ?lang= (the only
query parameter that changes the page: demos.i18n.LangFromQuery), the host and proxy headers (the
config carries the root URL), and the encoding and origin (install() puts the cache outside
Gradio's Brotli and CORS middleware, so it keeps their final bytes). Memory is bounded (least
recently used entries go first).
"""
from __future__ import annotations

from collections import OrderedDict

from demos.i18n import asked_locale

PAGES = ("/", "/config")  # the page and its config: the same for everyone but for ?lang=
STATIC = ("/assets/", "/static/", "/gradio_api/file=")  # Gradio's front end; the example images, thumbnails
HASHED = "/assets/"  # their names carry a content hash: a returning visitor's browser may keep them
IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")
MAX_BYTES = 64 * 2 ** 20  # all cached bodies together
MAX_BODY = 8 * 2 ** 20  # a larger response is passed through, never kept
CONDITIONAL = (b"if-none-match", b"if-modified-since", b"range", b"if-range")
VARY = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-prefix",  # the root URL
        b"accept-encoding", b"origin")  # Gradio's Brotli and CORS middleware answer by these


def cache_key(scope) -> tuple | None:
    """What a cached response depends on; None when the request is not cacheable."""
    if scope["type"] != "http" or scope.get("method") != "GET":
        return None
    path, query = scope["path"], scope.get("query_string", b"")
    if path in PAGES:
        query = (asked_locale(query) or "").encode()
    elif not path.startswith(STATIC):
        return None
    headers = dict(scope.get("headers", []))
    if any(name in headers for name in CONDITIONAL):  # the app answers these itself (304, 206)
        return None
    return (path, query, *(headers.get(name) for name in VARY))


class ResponseCache:
    """ASGI middleware: replay cached page, config and static-file responses (see module doc)."""

    def __init__(self, app):
        self.app = app
        self.entries: OrderedDict[tuple, tuple[dict, bytes]] = OrderedDict()
        self.bytes = 0

    async def __call__(self, scope, receive, send):
        key = cache_key(scope)
        if key is None:
            return await self.app(scope, receive, send)
        if key in self.entries:
            self.entries.move_to_end(key)
            start, body = self.entries[key]
            await send({**start, "headers": list(start["headers"])})  # a copy: outer middleware edits it
            await send({"type": "http.response.body", "body": body})
            return
        start, chunks, complete = {}, [], []

        async def capture(message):
            if message["type"] == "http.response.start":  # a copy, as above
                if key[0].startswith(HASHED) and message.get("status") == 200:
                    message = {**message, "headers": [*message.get("headers", []), IMMUTABLE]}
                start.update(message, headers=[tuple(header) for header in message.get("headers", [])])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    complete.append(True)
            await send(message)

        await self.app(scope, receive, capture)
        if complete:  # the whole body went out (a dropped connection leaves a partial one)
            self._keep(key, start, b"".join(chunks))

    def _keep(self, key: tuple, start: dict, body: bytes) -> None:
        cookie = any(name.lower() == b"set-cookie" for name, _ in start.get("headers", []))
        if start.get("status") != 200 or cookie or len(body) > MAX_BODY:
            return
        self.entries[key] = (start, body)
        self.bytes += len(body)
        while self.bytes > MAX_BYTES:
            _, (_, dropped) = self.entries.popitem(last=False)
            self.bytes -= len(dropped)


def install() -> None:
    """Make the Gradio apps created from now on answer through ResponseCache, placed outside
    Gradio's own CORS and Brotli middleware (launch(app_kwargs=...) puts middleware inside them):
    a replay is then the final, already compressed response, and Brotli does not run again for
    every visitor. Call before launch(); calling twice changes nothing."""
    from gradio.routes import App

    create_app = App.create_app
    if getattr(create_app, "with_response_cache", False):
        return

    def create_app_with_cache(*args, **kwargs):
        app = create_app(*args, **kwargs)
        app.add_middleware(ResponseCache)  # added last, so outermost
        return app

    create_app_with_cache.with_response_cache = True
    App.create_app = staticmethod(create_app_with_cache)
