"""English and Simplified Chinese: every wrapped string has its translation, ?lang= picks the
language before Gradio reads it, and components carry one translated value each."""
import asyncio

import gradio as gr
import pytest

import app
from demos import i18n
from demos.i18n_zh import ZH


@pytest.fixture(scope="module")
def gallery():
    return app.build_app()


def test_every_wrapped_string_has_a_chinese_translation(monkeypatch):
    monkeypatch.setattr(i18n, "_USED", {})  # only what the real gallery wraps (other tests build toy apps)
    app.build_app()
    zh = i18n.chinese()  # the shell's and every tab's own ZH
    missing = [text for text in i18n.used().values() if text not in zh]
    assert not missing, "no Chinese for:\n" + "\n".join(m[:100] for m in missing)


def test_translations_carry_both_languages_for_every_key(gallery, monkeypatch):
    monkeypatch.setattr(i18n, "_FROZEN", False)  # restored after: later tests build apps again
    tr = i18n.translations().translations
    assert set(tr["zh-CN"]) <= set(tr["en"])
    assert tr["en"][i18n.key("Gallery")] == "Gallery" and tr["zh-CN"][i18n.key("Gallery")] == ZH["Gallery"]


def test_tab_titles_and_the_front_page_are_translated(gallery):
    slugs = {"gallery"} | {slug for slug, _, _ in __import__("demos").PAPERS}
    tabs = [b for b in gallery.blocks.values() if isinstance(b, gr.Tab) and b.id in slugs]
    assert tabs and all(isinstance(b.label, gr.i18n.I18nData) for b in tabs)
    pages = [b for b in gallery.blocks.values() if isinstance(b, gr.HTML) and isinstance(b.value, gr.i18n.I18nData)]
    assert pages, "the front page's cards are not translated"


def test_no_component_hides_a_marker_inside_a_longer_string(gallery):
    """Gradio translates a whole value; a marker inside other text would be shown raw."""
    for block in gallery.blocks.values():
        for attr in ("value", "label", "info"):
            value = getattr(block, attr, None)
            if isinstance(value, str) and "__i18n__" in value and not (value.startswith("__i18n__{") and value.endswith("}")):
                pytest.fail(f"{type(block).__name__}.{attr} mixes a translation marker with text: {value[:80]}")


@pytest.mark.parametrize("query, locale", [(b"lang=zh", "zh-CN"), (b"tab=stn&lang=zh-cn", "zh-CN"),
                                           (b"lang=en", "en"), (b"lang=fr", None), (b"", None)])
def test_lang_in_the_url_picks_the_locale(query, locale):
    assert i18n.asked_locale(query) == locale


def _serve(middleware, path_query: bytes, content_type=b"text/html; charset=utf-8"):
    async def page(scope, receive, send):
        body = b"<html><head><title>x</title></head><body></body></html>"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    sent = []

    async def send(message):
        sent.append(message)

    path, _, query = path_query.partition(b"?")
    scope = {"type": "http", "method": "GET", "path": path.decode(), "query_string": query}
    asyncio.run(middleware(page)(scope, None, send))
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    assert dict(start["headers"])[b"content-length"] == str(len(body)).encode()
    return body


def test_the_language_script_comes_first_in_the_page_head():
    body = _serve(i18n.LangFromQuery, b"/?lang=zh")
    assert body.startswith(b"<html><head><script>") and b'"zh-CN"' in body
    assert _serve(i18n.LangFromQuery, b"/") == b"<html><head><title>x</title></head><body></body></html>"
    assert b"<script>" not in _serve(i18n.LangFromQuery, b"/config?lang=zh", b"application/json")


def test_request_locale_follows_the_url_then_the_browser():
    from types import SimpleNamespace

    assert i18n.request_locale(SimpleNamespace(query_params="lang=zh", headers={})) == "zh-CN"
    assert i18n.request_locale(SimpleNamespace(query_params="", headers={"accept-language": "zh-CN,zh;q=0.9"})) == "zh-CN"
    assert i18n.request_locale(SimpleNamespace(query_params="", headers={"accept-language": "en-GB"})) == "en"
    assert i18n.request_locale(None) == "en"


# ---- every tab's own text: each visible string is one translated value, or has no words
TRANSLATED_TABS = ["gallery"] + [slug for slug, _, _ in __import__("demos").PAPERS]  # every tab
TEXT_VALUES = (gr.Markdown, gr.HTML, gr.Button)  # components whose value is UI text


def _visible_strings(block):
    for attr in ("label", "info", "placeholder"):
        yield attr, getattr(block, attr, None)
    if isinstance(block, TEXT_VALUES):
        yield "value", block.value
    for choice in getattr(block, "choices", None) or []:
        yield "choice", choice[0] if isinstance(choice, (tuple, list)) else choice


def _has_words(text) -> bool:
    import re

    return isinstance(text, str) and not text.startswith("__i18n__") and bool(re.search(r"[A-Za-z]{2,}", text))


def untranslated(blocks, slug):
    tab = next(b for b in blocks.blocks.values() if isinstance(b, gr.Tab) and b.id == slug)
    inside = [b for b in blocks.blocks.values() if _within(b, tab)]
    names = {en for en, zh in ZH.items() if en == zh}  # names that stay as they are (AlexNet, ...)
    return [f"{type(b).__name__}.{attr}: {str(text)[:70]!r}" for b in inside
            for attr, text in _visible_strings(b) if _has_words(text) and text not in names]


def _within(block, tab):
    while block is not None:
        if block is tab:
            return True
        block = getattr(block, "parent", None)
    return False


@pytest.mark.parametrize("slug", TRANSLATED_TABS)
def test_every_visible_string_of_a_translated_tab_is_in_both_languages(gallery, slug):
    missing = untranslated(gallery, slug)
    assert not missing, f"{slug}: English-only text:\n" + "\n".join(missing)


def test_no_two_tabs_translate_the_same_english_differently():
    """One key per English text: a clash would let one tab's Chinese silently replace another's."""
    import demos

    seen, clashes = dict(ZH), []
    for demo in demos.TABS:
        for en, zh in (getattr(demo.module, "ZH", {}) or {}).items():
            if en in seen and seen[en] != zh:
                clashes.append(f"{demo.slug}: {en!r}: {seen[en]!r} vs {zh!r}")
            seen.setdefault(en, zh)
    assert not clashes, "\n".join(clashes)


def test_localized_after_launch_falls_back_to_plain_text_not_a_raw_key(monkeypatch):
    monkeypatch.setattr(i18n, "_FROZEN", True)
    assert i18n.localized("English", "中文") == "English"
