"""Opening the page costs only the opened tab's work: the front page runs no server event, and
each tab fills itself when it is selected (a ?tab= deep link selects it in the browser)."""
import gradio as gr
import pytest

import app


@pytest.fixture(scope="module")
def gallery():
    return app.build_app()


def _tab_of(block):
    while block is not None and not isinstance(block, gr.Tab):
        block = block.parent
    return block


def test_opening_the_front_page_runs_nothing_on_the_server(gallery):
    loads = [d for d in gallery.fns.values() if any(t[1] == "load" for t in d.targets)]
    assert [d.fn for d in loads] == [None]  # only the js-only deep-link selection


def test_tab_fills_are_bound_to_their_own_tabs_select(gallery):
    fills = [d for d in gallery.fns.values()
             if any(t[1] == "select" and isinstance(gallery.blocks.get(t[0]), gr.Tab) for t in d.targets)]
    assert len(fills) >= 6  # alexnet, siamese, mixup, stn, rstn, harmonic at least
    for dep in fills:
        tabs = [gallery.blocks[t[0]] for t in dep.targets if isinstance(gallery.blocks.get(t[0]), gr.Tab)]
        owners = {_tab_of(gallery.blocks[o._id]) for o in dep.outputs}
        for tab in tabs:  # a tab inside a tab fills within its own tab
            assert all(tab is o or _tab_of(o.parent) is tab for o in owners), f"{tab.id}'s select fills another tab"
