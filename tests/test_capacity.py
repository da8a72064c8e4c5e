"""One visitor cannot slow or break the others: torch's thread count is set once at start-up and
never by a handler (also with two heavy handlers running at once), heavy events are queued per
tab, time budgets are capped, caches keyed by visitor choices are bounded, model seeds are per
request (no global torch.manual_seed in handlers), and errors a visitor did not cause become a
generic message with the traceback in the log (no server paths)."""
from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
import torch

import app
import demos
from demos import common
from papers import checkpoints
from papers.checkpoints import Checkpoint, WeightsUnavailable


# --------------------------------------------------------------------------- threads
def test_threads_are_set_once_at_start_up_from_the_environment():
    before = torch.get_num_threads()
    try:
        assert app.configure_torch_threads({"GALLERY_TORCH_THREADS": "3"}) == 3 == torch.get_num_threads()
        assert app.configure_torch_threads({"GALLERY_TORCH_THREADS": "junk"}) == app.default_torch_threads()
    finally:
        torch.set_num_threads(before)
    assert app.default_torch_threads(2) == 1 and app.default_torch_threads(1) == 1
    assert 1 <= app.default_torch_threads(64) <= 4


def test_main_configures_threads_before_building(monkeypatch):
    calls = []
    monkeypatch.setattr(app, "configure_torch_threads", lambda: calls.append("threads"))
    monkeypatch.setattr(app, "build_app", lambda paper=None: calls.append("build") or _NoLaunch())
    app.main([])
    assert calls == ["threads", "build"]


class _NoLaunch:
    def launch(self, **kwargs):
        pass


@pytest.fixture
def spy_manual_seed(monkeypatch):
    calls = []
    real = torch.manual_seed
    monkeypatch.setattr(torch, "manual_seed", lambda seed: calls.append(seed) or real(seed))
    return calls


def _drain(gen):
    last = None
    for last in gen:
        pass
    return last


def test_two_heavy_handlers_at_once_leave_threads_and_the_global_rng_alone(spy_manual_seed):
    """The U-Net fine-tuning and the mixup toy comparison, concurrently on two threads (as two
    Gradio workers run them): the thread count never changes, and no handler seeds torch."""
    from demos import mixup as mixup_tab
    from demos import unet as unet_tab

    threads = torch.get_num_threads()
    errors, seen = [], set()

    def run(fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    jobs = [threading.Thread(target=run, args=(lambda: _drain(unet_tab.train_a_little(unet_tab.EXAMPLES[0], 2, True, False)),)),
            threading.Thread(target=run, args=(lambda: _drain(mixup_tab.train_toy("moons", 0.0, 0.4, 1)),))]
    for job in jobs:
        job.start()
    while any(job.is_alive() for job in jobs):
        seen.add(torch.get_num_threads())
        jobs[0].join(0.05)
    for job in jobs:
        job.join()
    assert not errors, errors
    assert seen <= {threads} and torch.get_num_threads() == threads
    assert spy_manual_seed == []


def test_seeded_init_gives_manual_seed_weights_and_restores_the_rng():
    torch.manual_seed(123)
    expected = torch.nn.Linear(4, 3).weight.detach().clone()
    state = torch.random.get_rng_state()
    with checkpoints.seeded_init(123):
        got = torch.nn.Linear(4, 3).weight.detach().clone()
    assert torch.equal(got, expected) and torch.equal(torch.random.get_rng_state(), state)


def test_no_handler_module_seeds_torch_globally():
    import inspect

    for demo in demos.TABS:
        source = inspect.getsource(demo.module)
        assert "torch.manual_seed(" not in source, demo.slug


# --------------------------------------------------------------------------- queues and budgets
@pytest.fixture(scope="module")
def built():
    return app.build_app()


def test_heavy_events_are_queued_per_tab_with_the_queue_position_shown(built):
    slugs = {demo.slug for demo in demos.TABS}
    heavy = [fn for fn in built.fns.values() if fn.concurrency_id and str(fn.concurrency_id).endswith("-heavy")]
    groups = {fn.concurrency_id for fn in heavy}
    assert len(groups) >= 8, groups  # training/optimisation tabs, one group each
    assert groups <= {common.heavy_id(slug) for slug in slugs}
    assert all(fn.concurrency_limit == 1 for fn in heavy)
    assert not any(fn.concurrency_id == "heavy" for fn in built.fns.values())
    assert all(fn.show_progress != "hidden" for fn in heavy)  # Gradio shows the queue position


def test_time_budgets_are_capped_for_a_shared_two_core_machine():
    from demos import style_transfer, texture_bias

    assert style_transfer.BUDGET_S[1] <= 180 and texture_bias.BUDGET_S[1] <= 120
    assert common.bounded_seconds(1e9, 5, 180) == 180
    assert common.bounded_seconds(float("nan"), 5, 180) == 5
    assert common.bounded_seconds("junk", 5, 180) == 5
    assert common.bounded_seconds(-3, 5, 180) == 5


# --------------------------------------------------------------------------- bounded caches
def test_caches_keyed_by_visitor_choices_are_bounded():
    from demos import siamese as siamese_tab

    assert siamese_tab._data.cache_info().maxsize <= 8
    assert siamese_tab._baseline.cache_info().maxsize <= 8
    built = []

    @checkpoints.cached_model(max_entries=3)
    def model(key):
        built.append(key)
        return object()

    first = model("a")
    for key in "bcdefg":
        model(key)
    assert model.cache_len() == 3 and model("a") is not first and built.count("a") == 2


# --------------------------------------------------------------------------- errors
def _handler(exc):
    @common.friendly_errors
    def handler():
        raise exc
    return handler


def test_visitor_errors_become_messages_without_server_paths(tmp_path, monkeypatch):
    import gradio as gr

    with pytest.raises(gr.Error, match="No image"):
        _handler(common.BadImage("No image given"))()
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(tmp_path))
    ckpt = Checkpoint(name="Big", filename="big.safetensors", upstream_url="https://example.invalid/big-0123abcd.pth",
                      upstream_sha256="0123abcd")
    with pytest.raises(gr.Error) as err:
        _handler(WeightsUnavailable(checkpoints.missing_message(ckpt)))()
    text = str(err.value.message)
    assert "Big" in text and str(tmp_path) not in text and str(checkpoints.REPO_ROOT) not in text
    with pytest.raises(gr.Error, match="empty"):
        from papers import stn
        _handler_call(lambda: stn.to_digit(torch.zeros(28, 28)))


def _handler_call(fn):
    return common.friendly_errors(fn)()


def test_other_errors_are_logged_with_traceback_and_shown_generically(caplog):
    import gradio as gr

    def library_value_error():
        np.zeros(3).reshape(7)  # a ValueError raised inside numpy: a bug, not the visitor

    for fn in (lambda: 1 / 0, library_value_error, lambda: open("/work/secret/path.txt")):
        with caplog.at_level(logging.ERROR, logger="demos"), pytest.raises(gr.Error) as err:
            common.friendly_errors(fn)()
        assert err.value.message == common.GENERIC_FAILURE
        assert "/work" not in err.value.message
    assert caplog.text.count("Traceback") >= 3


def test_generator_handlers_translate_errors_too(caplog):
    import gradio as gr

    @common.friendly_errors
    def stream():
        yield 1
        raise RuntimeError("internal detail /srv/app/x.py")

    gen = stream()
    assert next(gen) == 1
    with caplog.at_level(logging.ERROR, logger="demos"), pytest.raises(gr.Error) as err:
        next(gen)
    assert err.value.message == common.GENERIC_FAILURE and "internal detail" in caplog.text


# --------------------------------------------------------------------------- 16-bit uploads, U-Net
def test_unet_tab_takes_a_sixteen_bit_tiff_by_its_own_range(tmp_path):
    from PIL import Image

    from demos import unet as unet_tab
    from papers import unet

    cells, _ = unet.synthetic_cells(256, np.random.default_rng(3))  # float in [0, 1]
    eight, sixteen = tmp_path / "cells.png", tmp_path / "cells.tif"
    Image.fromarray((cells * 255 + 0.5).astype(np.uint8)).save(eight)
    Image.fromarray((cells * 4095 + 0.5).astype(np.uint16)).save(sixteen)  # 12-bit camera in 16 bits
    assert Image.open(sixteen).mode == "I;16"
    component = _unet_segment_input()
    assert component.type == "filepath" and component.image_mode is None  # the raw file reaches the handler
    (_, masks8), _, _, summary8 = unet_tab.segment(str(eight), 0.5, False, "synthetic", progress=lambda *a, **k: None)
    (rgb16, masks16), _, _, summary16 = unet_tab.segment(str(sixteen), 0.5, False, "synthetic",
                                                         progress=lambda *a, **k: None)
    count8, count16 = len(masks8), len(masks16)
    assert count16 >= 3 and abs(count16 - count8) <= max(1, count8 // 10), (summary8, summary16)
    assert rgb16.max() == 255 and rgb16.min() == 0  # scaled by its range, not all-255 or near black


def _unet_segment_input():
    """The image component the U-Net tab's segment event reads."""
    import gradio as gr

    from demos import unet as unet_tab

    with gr.Blocks() as blocks:
        unet_tab.build()
    segment = next(fn for fn in blocks.fns.values() if fn.api_name == "unet_segment")
    return segment.inputs[0]


def test_a_tab_that_fails_to_build_shows_no_server_paths(caplog):
    import gradio as gr

    def broken():
        raise FileNotFoundError(f"{app.__file__} and {checkpoints.REPO_ROOT}/weights/x.safetensors are missing")

    with caplog.at_level(logging.ERROR, logger="demos"), gr.Blocks() as blocks:
        app._build_tab(demos.Demo("broken", "Broken", "https://example.org", broken, None))
    shown = " ".join(str(b.value) for b in blocks.blocks.values() if isinstance(b, gr.Markdown))
    assert "failed to start" in shown and str(checkpoints.REPO_ROOT) not in shown
    assert "Traceback" in caplog.text


def test_only_visitor_messages_reach_the_page():
    assert app.launch_kwargs(app.parse_args([]))["show_error"] is False


def test_any_number_is_a_seed_for_the_unet_views():
    from demos import unet as unet_tab

    assert unet_tab.show_weight_map(-1e9, 10, 5)[0].shape[-1] == 3
    assert unet_tab.show_elastic(1e12, 10)[1].shape[-1] == 3


def test_any_number_is_a_seed_for_the_mixup_toy():
    from demos import mixup as mixup_tab

    *_, status = _drain(mixup_tab.train_toy("moons", 0.0, 0.4, -1e9))
    assert "ERM" in status or "mixup" in status
