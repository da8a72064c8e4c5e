"""Opening the page costs only the opened tab's work: the front page runs no model, a deep link
fills its own tab only, and each tab fills itself when selected."""
from types import SimpleNamespace

import gradio as gr
import pytest

import app


@pytest.fixture(scope="module")
def gallery():
    return app.build_app()


def _fill(blocks):
    loads = [d for d in blocks.fns.values() if any(t[1] == "load" for t in d.targets)]
    fills = [d for d in loads if d.fn.__qualname__.startswith("open_selected_tab")]
    assert len(loads) == 2 and len(fills) == 1  # tab selection + one fill for the opened tab
    return fills[0]


def _call(dep, tab):
    values = [c.value for c in dep.inputs]
    return dep.fn(*values, request=SimpleNamespace(query_params={"tab": tab} if tab else {}))


def _is_skip(value):
    return isinstance(value, dict) and value.get("__type__") == "update" and len(value) == 1


def test_the_front_page_runs_no_tab_work(gallery):
    assert all(_is_skip(v) for v in _call(_fill(gallery), None))


def test_a_deep_link_fills_only_its_own_tab(gallery):
    dep = _fill(gallery)
    values = _call(dep, "rstn")
    owners = [gallery.blocks[o._id] for o in dep.outputs]
    filled = [o for o, v in zip(owners, values) if not _is_skip(v)]
    assert filled, "the rstn tab was not filled"
    tabs = {_tab_of(o) for o in filled}
    assert tabs == {"rstn"}


def _tab_of(block):
    while block is not None and not isinstance(block, gr.Tab):
        block = block.parent
    return block.id


def test_every_fill_is_also_bound_to_its_tabs_select(gallery):
    selects = {d.fn for d in gallery.fns.values() if any(t[1] == "select" and isinstance(gallery.blocks.get(t[0]), gr.Tab)
                                                        for t in d.targets)}
    for _, fn, _, _ in gallery.__dict__["tab_openers"]:
        assert fn in selects
