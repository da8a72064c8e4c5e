"""English and Simplified Chinese for every string a visitor reads (Gradio's `gr.I18n`).

Write UI text in English and wrap it: ``gr.Button(t("Run"))``, ``gr.Markdown(t(INTRO))``. The
key is a short hash of the English text, so the English stays readable in the code; the Chinese
lives beside it: the shell's in `demos/i18n_zh.py`, each tab's in its demo module's ``ZH`` dict
(``ZH[english] = chinese``). The browser's language picks
the translation; ``?lang=zh`` / ``?lang=en`` in the URL overrides it (for embeds).

A component's text must be ONE translated value (``t(...)`` or ``localized(en, zh)``): Gradio
translates a whole value, not a marker inside a longer string. Text with figures from results/
is made in both languages with ``localized``; text a handler makes at request time is written
in the visitor's language (``request_locale(request)``).
"""
from __future__ import annotations

import hashlib
import logging

import gradio as gr

from demos.i18n_zh import ZH

LOCALES = ("en", "zh-CN")
_USED: dict[str, str] = {}  # key -> English, every string wrapped so far (the tests read it)
_PAIRS: dict[str, tuple[str, str]] = {}  # key -> (English, Chinese) made together in code
_FROZEN = False  # set once translations() has been handed to launch()


def key(english: str) -> str:
    return "t" + hashlib.sha1(english.encode()).hexdigest()[:12]


def t(english: str) -> gr.i18n.I18nData:
    """A translatable string: English here, Chinese from ZH in a Chinese browser."""
    k = key(english)
    _USED[k] = english
    return gr.i18n.I18nData(k)


def localized(english: str, chinese: str) -> gr.i18n.I18nData:
    """Text made in code in both languages at once (e.g. a page of cards with figures from
    results/, built once per process): shown in the visitor's language like t()."""
    if _FROZEN:  # the page's translations are already sent: a new key would show raw
        logging.getLogger(__name__).warning("localized() at request time; use say(request, ...): %.60s", english)
        return english
    k = key(english + "\x00" + chinese)
    _PAIRS[k] = (english, chinese)
    return gr.i18n.I18nData(k)


def used() -> dict[str, str]:
    return dict(_USED)


def chinese() -> dict[str, str]:
    """Every Chinese translation: the shell's and each tab's own ``ZH``."""
    import demos

    merged = dict(ZH)
    for demo in demos.TABS:
        merged.update(getattr(demo.module, "ZH", {}) or {})
    return merged


def zh_figure(figure: str) -> str:
    """A figure from papers.results in Chinese ("(5 seeds)" -> "(5 个随机种子)")."""
    return figure.replace(" seeds)", " 个随机种子)")


def say(request, english: str, chinese: str) -> str:
    """Text a handler makes at request time, in the visitor's language."""
    return chinese if request_locale(request) == "zh-CN" else english


def translations() -> gr.I18n:
    """The gr.I18n for `launch(i18n=...)`: every wrapped string in both languages (a string
    without a Chinese translation falls back to English)."""
    global _FROZEN
    _FROZEN = True
    zh = chinese()
    english = {key(text): text for text in set(_USED.values()) | set(zh)}
    chinese_by_key = {key(text): value for text, value in zh.items()}
    for k, (en, cn) in _PAIRS.items():
        english[k], chinese_by_key[k] = en, cn
    return gr.I18n(en=english, **{"zh-CN": chinese_by_key})


# ?lang=zh|en overrides the browser's language. Gradio reads navigator.language as its first
# script runs, so the override must come before it: `LangFromQuery` writes this script at the top
# of the page's <head> when the URL asks for a language (the page is otherwise untouched).
LANG_SCRIPT = """<script>(function () {{
  var lang = "{lang}";
  Object.defineProperty(navigator, "language", {{get: function () {{ return lang; }}}});
  Object.defineProperty(navigator, "languages", {{get: function () {{ return [lang]; }}}});
}})();</script>"""


def asked_locale(query_string: bytes) -> str | None:
    """?lang=zh / zh-CN / zh-cn -> 'zh-CN'; ?lang=en -> 'en'; anything else -> None."""
    from urllib.parse import parse_qs

    asked = (parse_qs(query_string.decode("latin-1")).get("lang") or [""])[0].lower()
    if asked.startswith("zh"):
        return "zh-CN"
    return "en" if asked.startswith("en") else None


class LangFromQuery:
    """ASGI middleware: on a page request with ?lang=..., put LANG_SCRIPT first in <head>."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        locale = asked_locale(scope.get("query_string", b"")) if scope["type"] == "http" else None
        if locale is None or scope.get("method") != "GET":
            return await self.app(scope, receive, send)
        start, body = {}, []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            headers = dict(start.get("headers", []))
            if b"text/html" not in headers.get(b"content-type", b""):
                if start:
                    await send(dict(start))
                    start.clear()
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body).replace(b"<head>", b"<head>" + LANG_SCRIPT.format(lang=locale).encode(), 1)
            fixed = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": fixed + [(b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, capture)


def request_locale(request) -> str:
    """The visitor's language for text made at request time: ?lang=, else the browser's."""
    if request is None:
        return "en"
    asked = asked_locale(str(getattr(request, "query_params", "") or "").encode())
    if asked:
        return asked
    accept = (getattr(request, "headers", {}) or {}).get("accept-language", "")
    return "zh-CN" if accept.lower().startswith("zh") else "en"


def app_kwargs() -> dict:
    """FastAPI settings for launch(app_kwargs=...): the ?lang= middleware."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(LangFromQuery)]}
