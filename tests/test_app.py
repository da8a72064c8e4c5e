"""The gallery shell: every tab builds, deep links select tabs, one demo can be served alone,
a broken demo does not take the gallery down, and a real client reaches a named endpoint."""
from types import SimpleNamespace

import gradio as gr
import pytest

import app
import demos
from demos.i18n import t


def test_every_listed_module_is_a_working_demo():
    assert len(demos.TABS) == len(demos.MODULES)
    for demo in demos.TABS:
        assert demo.module is not None, f"{demo.slug} failed to import"
        assert callable(demo.module.bench_default)
    slugs = [d.slug for d in demos.TABS]
    assert len(set(slugs)) == len(slugs)
    assert set(slugs) <= {slug for slug, _, _ in demos.PAPERS}


def test_build_app_builds_every_tab():
    blocks = app.build_app()
    tabs = [b for b in blocks.blocks.values() if isinstance(b, gr.Tab)]
    assert {str(t(d.title)) for d in demos.TABS} <= {str(b.label) for b in tabs}
    assert {d.slug for d in demos.TABS} <= {b.id for b in tabs}  # what ?tab=slug selects
    failures = [b.value for b in blocks.blocks.values()
                if isinstance(b, gr.Markdown) and "failed to start" in str(b.value)]
    assert not failures


def test_deep_links_are_selected_in_the_browser_without_a_server_event():
    """?tab=slug is handled by a js-only load event that clicks the tab's button (whose select
    event fills the tab); the browser test checks it on every tab."""
    blocks = app.build_app()
    loads = [d for d in blocks.fns.values() if any(t[1] == "load" for t in d.targets)]
    assert len(loads) == 1 and loads[0].fn is None and "data-tab-id" in loads[0].js
    tab_ids = {b.id for b in blocks.blocks.values() if isinstance(b, gr.Tab)}
    assert {d.slug for d in demos.TABS} | {"gallery"} <= tab_ids


def test_a_demo_that_raises_shows_an_error_and_the_rest_builds(monkeypatch):
    def broken():
        raise RuntimeError("no such model")

    good = demos.Demo("good", "Good", "https://example.org", lambda: gr.Markdown("fine"))
    bad = demos.Demo("bad", "Bad", "https://example.org", broken)
    monkeypatch.setattr(demos, "TABS", [bad, good])
    blocks = app.build_app()
    texts = [str(b.value) for b in blocks.blocks.values() if isinstance(b, gr.Markdown)]
    assert any("no such model" in t for t in texts) and "fine" in texts


def test_a_module_that_fails_to_import_becomes_an_error_tab():
    demo = demos._demo("demos.does_not_exist")
    assert demo.module is None and demo.slug == "does-not-exist"
    with gr.Blocks() as blocks:
        demo.build()
    assert any("ModuleNotFoundError" in str(b.value) for b in blocks.blocks.values() if isinstance(b, gr.Markdown))


def test_paper_flag_serves_one_demo_and_rejects_unknown():
    if not demos.TABS:
        pytest.skip("no tab yet")
    single = app.build_app(paper=demos.TABS[0].slug)
    tab_ids = {b.id for b in single.blocks.values() if isinstance(b, gr.Tab)}
    assert not tab_ids & {d.slug for d in demos.TABS}  # no gallery tabs, just the one demo
    assert not any(isinstance(b, gr.Markdown) and "Paper Demo Gallery" in str(b.value) for b in single.blocks.values())
    with pytest.raises(SystemExit, match="Unknown paper"):
        app.build_app(paper="not-a-paper")


def test_cli_arguments_and_environment(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    args = app.parse_args(["--paper", "stn", "--share"])
    kwargs = app.launch_kwargs(args)
    assert (kwargs["server_name"], kwargs["server_port"], kwargs["share"]) == ("0.0.0.0", 7999, True)
    assert kwargs["ssr_mode"] is False
    assert app.parse_args(["--host", "127.0.0.1", "--port", "8000"]).port == 8000


def test_launched_app_serves_named_endpoints_to_a_client():
    from gradio_client import Client

    blocks = app.build_app()
    blocks.launch(prevent_thread_lock=True, server_port=None, ssr_mode=False, quiet=True)
    try:
        client = Client(blocks.local_url, verbose=False)
        endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        for demo in demos.TABS:
            prefixes = tuple(f"/{demo.slug.replace('-', sep)}_" for sep in "-_")
            assert any(name.startswith(prefixes) for name in endpoints), f"{demo.slug}: no named endpoint"
        prefixes = tuple(f"/{d.slug.replace('-', sep)}_" for d in demos.TABS for sep in "-_")
        stray = [name for name in endpoints if not name.startswith(prefixes)]
        assert not stray, f"public endpoints without a tab's name (private events exposed?): {stray}"
        *_, note = client.predict(0, 10, 5, api_name="/unet_weight_map")  # a cheap, weight-free endpoint
        assert "cells" in note
    finally:
        blocks.close()
