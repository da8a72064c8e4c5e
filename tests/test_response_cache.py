"""demos.response_cache: what is replayed, what never is, and that replays stay byte-identical."""
import asyncio

import pytest

from demos import response_cache
from demos.response_cache import IMMUTABLE, MAX_BODY, ResponseCache


class Page:
    """A stand-in ASGI app: counts calls; answers with `status`, `headers` and `chunks`."""

    def __init__(self, status=200, headers=((b"content-type", b"text/html"),), chunks=(b"<html>", b"</html>"),
                 complete=True):
        self.calls, self.status, self.headers, self.chunks, self.complete = 0, status, list(headers), chunks, complete

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await send({"type": "http.response.start", "status": self.status, "headers": list(self.headers)})
        for i, chunk in enumerate(self.chunks):
            last = i == len(self.chunks) - 1 and self.complete
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})


class EditsHeaders:
    """An outer middleware that appends to the headers it is sent, as CORS/Brotli middleware do."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def edit(message):
            if message["type"] == "http.response.start":
                message["headers"].append((b"vary", b"Origin"))
            await send(message)
        await self.app(scope, receive, edit)


def get(app, path="/", query=b"", method="GET", headers=()):
    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": [(b"host", b"example.org"), *headers]}
    sent = []

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, None, send))
    start = sent[0]
    return start["status"], start["headers"], b"".join(m.get("body", b"") for m in sent[1:])


def test_the_page_is_rendered_once_and_replayed_byte_for_byte():
    page = Page()
    cache = ResponseCache(page)
    first, second = get(cache), get(cache)
    assert page.calls == 1 and first == second == (200, [(b"content-type", b"text/html")], b"<html></html>")


def test_only_the_language_in_the_query_makes_another_page():
    page = Page()
    cache = ResponseCache(page)
    get(cache, query=b"tab=stn")
    get(cache, query=b"tab=pcn&x=1")  # the same page: ?tab= is handled in the browser
    assert page.calls == 1
    get(cache, query=b"lang=zh")
    get(cache, query=b"tab=stn&lang=zh")
    assert page.calls == 2


@pytest.mark.parametrize("path, method, headers", [
    ("/gradio_api/queue/join", "GET", ()),  # anything else than the page, config and front end
    ("/", "POST", ()),
    ("/", "GET", ((b"if-none-match", b'"abc"'),)),  # the app answers 304 itself
    ("/assets/index-abc.js", "GET", ((b"range", b"bytes=0-1"),)),
])
def test_other_requests_always_reach_the_app(path, method, headers):
    page = Page()
    cache = ResponseCache(page)
    for _ in range(2):
        get(cache, path, method=method, headers=headers)
    assert page.calls == 2


@pytest.mark.parametrize("page", [Page(status=404), Page(headers=[(b"set-cookie", b"a=1")]), Page(complete=False),
                                  Page(chunks=(b"x" * (MAX_BODY + 1),))], ids=["not found", "cookie", "cut short", "huge"])
def test_errors_cookies_and_unfinished_bodies_are_not_kept(page):
    cache = ResponseCache(page)
    get(cache)
    get(cache)
    assert page.calls == 2


def test_outer_middleware_editing_headers_does_not_change_the_cached_copy():
    cache = ResponseCache(Page())
    app = EditsHeaders(cache)
    replies = [get(app) for _ in range(3)]
    assert all(headers.count((b"vary", b"Origin")) == 1 for _, headers, _ in replies)


def test_hashed_front_end_files_are_marked_immutable_and_the_rest_not():
    cache = ResponseCache(Page())
    assert IMMUTABLE in get(cache, "/assets/index-DphvyggB.js")[1]
    assert IMMUTABLE in get(cache, "/assets/index-DphvyggB.js")[1]  # the replay too
    assert IMMUTABLE not in get(cache, "/static/js/x.js")[1] and IMMUTABLE not in get(cache, "/")[1]


def test_memory_stays_bounded_and_the_least_recently_used_go_first(monkeypatch):
    monkeypatch.setattr(response_cache, "MAX_BYTES", 30)
    cache = ResponseCache(Page(chunks=(b"x" * 10,)))
    for name in ("a", "b", "c"):
        get(cache, f"/assets/{name}.js")
    get(cache, "/assets/a.js")  # used again: now the most recent
    get(cache, "/assets/d.js")  # over the bound: "b" goes
    assert cache.bytes == 30
    assert [key[0] for key in cache.entries] == ["/assets/c.js", "/assets/a.js", "/assets/d.js"]


def test_each_encoding_and_origin_gets_its_own_copy():
    """Outside Gradio's Brotli and CORS middleware the cached bytes are compressed for one
    encoding and carry one origin's CORS headers."""
    page = Page()
    cache = ResponseCache(page)
    for headers in [((b"accept-encoding", b"br"),), ((b"accept-encoding", b"gzip"),), ((b"origin", b"https://a.org"),)]:
        get(cache, "/assets/index-x.js", headers=headers)
        get(cache, "/assets/index-x.js", headers=headers)
    assert page.calls == 3


def test_example_files_are_cached_too():
    page = Page()
    cache = ResponseCache(page)
    get(cache, "/gradio_api/file=/srv/demos/assets/astronaut.jpg")
    get(cache, "/gradio_api/file=/srv/demos/assets/astronaut.jpg")
    assert page.calls == 1


def test_installed_the_cache_is_the_outermost_middleware_of_gradios_app():
    import gradio as gr
    from gradio.routes import App

    original = App.create_app
    try:
        response_cache.install()
        response_cache.install()  # twice: still one cache
        with gr.Blocks() as blocks:
            gr.Markdown("hi")
        app = App.create_app(blocks)
        classes = [m.cls for m in app.user_middleware]
        assert classes[0] is ResponseCache and classes.count(ResponseCache) == 1
    finally:
        App.create_app = staticmethod(original)
