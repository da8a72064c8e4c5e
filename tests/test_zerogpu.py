"""ZeroGPU: every handler that runs a model is wrapped in `spaces.GPU` (via papers.checkpoints.gpu)
with a duration that fits its work, generators stay generators, a wrapped handler still works on
a CPU, nothing initialises CUDA when the app is imported and built, and the app also builds with
a GPU's larger defaults.

The app is imported in a fresh subprocess with a stand-in `spaces` module installed first (as on
a ZeroGPU Space, where `spaces` is importable), so no other test sees the wrapped handlers."""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from papers import checkpoints

ROOT = Path(__file__).resolve().parent.parent

# Handlers that run no model, by (module, qualified name): pure UI, numpy drawing, or a thin
# delegate to a wrapped handler. Everything else the app registers must be wrapped.
EXEMPT = {
    ("demos.alexnet", "build.<locals>.<lambda>"): "page load: calls architecture(), which is wrapped",
    ("demos.alexnet", "fig1_opening"): "reads the precomputed Fig. 1 curves (demos/assets)",
    ("demos.unet", "show_weight_map"): "numpy: the weight map of Eq. 2",
    ("demos.unet", "show_elastic"): "numpy: an elastic deformation",
    ("demos.image_transformer", "_next_seed"): "UI: seed + 1",
    ("demos.siamese", "default_loss"): "UI: the Loss radio follows the data set",
    ("demos.image_transformer", "_clicked_pixel"): "UI: click -> row, column",
    ("demos.image_transformer", "build.<locals>.<lambda>"): "UI: switches the source radio",
    ("demos.mixup", "mix_two"): "numpy: λ·x_i + (1 − λ)·x_j",
    ("demos.mixup", "sample_lambda"): "numpy: one draw from Beta(α, α)",
    ("demos.mixup", "initial_mix"): "numpy: the first mix when the tab opens",
    ("demos.mixup", "toy_opening"): "reads the precomputed toy comparison (demos/assets)",
    ("demos.mixup", "curve_opening"): "reads the precomputed memorisation curve (demos/assets)",
    ("demos.mixup", "between_opening"): "reads the precomputed Fig. 2 measurements (demos/assets)",
    ("demos.texture_bias", "opening"): "reads the precomputed training run (demos/assets)",
    ("demos.xception", "curves_opening"): "reads the precomputed §4.7 curves (demos/assets)",
    ("demos.siamese", "show_loss_plot"): "UI: shows the loss plot with its axis titles",
    ("demos.harmonic", "accuracy_frame"): "reads accuracies stored with the checkpoints' declarations",
    ("demos.pcn", "detect_new_image"): "clears on None, else calls detect(), which is wrapped",
    ("demos.stn", "source_after_drawing"): "UI: switches the source radio",
    ("demos.stn", "preset"): "UI: the sliders' values for the chosen model (E: centred, warped)",
    ("demos.rstn", "roll"): "UI: a random digit string",
    ("demos.deconvnet", "on_backbone_change"): "layer names from a meta-device model (no weights, no device)",
    ("demos.deconvnet", "occlusion_defaults"): "UI: slider ranges",
    ("demos.gradcam", "build.<locals>.<lambda>"): "UI: class dropdown choices",
}

PROBE = r'''
import functools, inspect, json, os, sys, types

sys.path.insert(0, os.getcwd())
RECORDED = {}  # id(wrapper) -> duration
CALLS = []


def GPU(task=None, *, duration=None, **kwargs):
    """Stand-in for spaces.GPU: records what it wraps and the duration; keeps generators
    generators, as the real one does."""
    def wrap(fn):
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kw):
                CALLS.append((fn.__qualname__, duration(*args, **kw) if callable(duration) else duration))
                yield from fn(*args, **kw)
        else:
            @functools.wraps(fn)
            def wrapper(*args, **kw):
                CALLS.append((fn.__qualname__, duration(*args, **kw) if callable(duration) else duration))
                return fn(*args, **kw)
        wrapper.zerogpu_duration = duration
        return wrapper
    return wrap(task) if task is not None else wrap


sys.modules["spaces"] = types.SimpleNamespace(GPU=GPU)

import torch

CUDA_INITS = []
real_lazy_init = torch.cuda._lazy_init
def lazy_init():
    CUDA_INITS.append("torch.cuda._lazy_init")
    return real_lazy_init()
torch.cuda._lazy_init = lazy_init
torch.set_num_threads(1)

import app

blocks = app.build_app()
rows = []
for index, dep in blocks.fns.items():
    fn = dep.fn
    if fn is None:
        continue
    target = fn.func if isinstance(fn, functools.partial) else fn
    module = getattr(inspect.unwrap(target), "__module__", "") or ""
    if module.startswith("gradio"):
        continue  # gr.Examples' own loader
    duration = getattr(target, "zerogpu_duration", None)
    inner = inspect.unwrap(target)
    rows.append({"api_name": dep.api_name, "visibility": str(getattr(dep, "api_visibility", "")),
                 "module": inner.__module__, "qualname": inner.__qualname__,
                 "wrapped": hasattr(target, "zerogpu_duration"),
                 "duration": duration if isinstance(duration, (int, float)) or duration is None else "callable",
                 "generator_kept": inspect.isgeneratorfunction(target) == inspect.isgeneratorfunction(inner),
                 "index": index})

import demos.style_transfer as st_demo
import demos.stn as stn_demo
import demos.image_transformer as it_demo
import demos.pcn as pcn_demo
budget_s = st_demo.run.zerogpu_duration
st_durations = [budget_s(None, None, None, -3, True, 256, 100, "lbfgs", "content", "avg", False, b)
                for b in (60, 10_000, "junk")]
st_cap = st_demo.BUDGET_S[1]

# A wrapped handler, called the way Gradio calls it (through the registered function), on a CPU.
by_name = {r["api_name"]: blocks.fns[r["index"]].fn for r in rows}
d = stn_demo.DEFAULTS
analysed = by_name["stn_analyse"](d["source"], d["index"], None, d["angle"], d["scale"], d["shift_x"],
                                  d["shift_y"], d["clutter"])
sample = by_name["image-transformer_sample"]
frames = list(sample("1d", 1.0, 2, 0, pause=0.0))

import gradio as gr


def failures(app_blocks):
    return [str(b.value)[:200] for b in app_blocks.blocks.values()
            if isinstance(b, gr.Markdown) and "failed to start" in str(b.value)]


cpu_failures = failures(blocks)
# The same app as a GPU machine builds it (larger defaults): GALLERY_DEVICE is only read, so
# building with it moves nothing to CUDA.
os.environ["GALLERY_DEVICE"] = "cuda"
gpu_blocks = app.build_app()
os.environ["GALLERY_DEVICE"] = "cpu"
from demos.i18n import used


def english(label):  # a translated label -> its English text
    return used().get(getattr(label, "key", None), str(label))


gpu_sliders = {english(b.label): b.value for b in gpu_blocks.blocks.values() if isinstance(b, gr.Slider)}
cpu_sliders = {english(b.label): b.value for b in blocks.blocks.values() if isinstance(b, gr.Slider)}
grown = sorted(label for label in cpu_sliders if gpu_sliders.get(label) != cpu_sliders[label])

print(json.dumps({
    "cpu_failures": cpu_failures, "gpu_failures": failures(gpu_blocks), "grown_sliders": grown,
    "rows": rows, "style_transfer_durations": st_durations, "style_transfer_cap": st_cap,
    "stn_outputs": len(analysed), "stn_overlay_shape": list(analysed[0].shape),
    "sample_is_generator": inspect.isgeneratorfunction(sample), "sample_frames": len(frames),
    "sample_last_status": frames[-1][1],
    "calls": CALLS, "cuda_initialised": torch.cuda.is_initialized(), "cuda_inits": CUDA_INITS,
    "pcn_detect_wrapped": hasattr(pcn_demo.detect, "zerogpu_duration"),
}))
'''


@pytest.fixture(scope="module")
def probe() -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GALLERY_DEVICE": "cpu"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_model_running_handler_is_wrapped(probe):
    unwrapped = [(r["module"], r["qualname"], r["api_name"]) for r in probe["rows"]
                 if not r["wrapped"] and (r["module"], r["qualname"]) not in EXEMPT]
    assert not unwrapped, f"handlers that may run a model but are not wrapped in papers.checkpoints.gpu: {unwrapped}"
    wrapped_exempt = [(r["module"], r["qualname"]) for r in probe["rows"]
                      if r["wrapped"] and (r["module"], r["qualname"]) in EXEMPT]
    assert not wrapped_exempt, f"exempt handlers that are wrapped after all (update EXEMPT): {wrapped_exempt}"
    assert probe["pcn_detect_wrapped"]  # what the pcn_new_image exemption relies on


def test_every_public_endpoint_is_covered_and_most_are_wrapped(probe):
    public = [r for r in probe["rows"] if r["visibility"] == "public"]
    assert len(public) >= 40
    wrapped = [r for r in public if r["wrapped"]]
    exempt_public = {r["api_name"] for r in public if not r["wrapped"]}
    # the exemption list stays small and names only the model-free endpoints
    assert exempt_public == {"unet_weight_map", "unet_elastic", "mixup_sample_lambda", "pcn_new_image", "rstn_roll"}
    assert len(wrapped) == len(public) - len(exempt_public)


def test_durations_fit_the_work(probe):
    for r in probe["rows"]:
        if r["wrapped"] and r["duration"] != "callable":
            assert 10 <= r["duration"] <= 300, r
    by_name = {r["api_name"]: r for r in probe["rows"]}
    # training and optimisation tabs ask for their own time budget plus a margin
    for name in ("style-transfer_run", "siamese_train", "texture-bias_train", "unet_train", "mixup_digits"):
        assert by_name[name]["duration"] == "callable", name
    margin = checkpoints.GPU_MARGIN_S
    cap = probe["style_transfer_cap"]  # the handler's own cap on its time budget
    assert probe["style_transfer_durations"] == [60 + margin, cap + margin, cap + margin]
    assert by_name["guided-anchoring_measure"]["duration"] == 120 + margin
    assert by_name["deconvnet_occlude"]["duration"] == 120 + margin


def test_generators_stay_generators(probe):
    assert all(r["generator_kept"] for r in probe["rows"]), [r for r in probe["rows"] if not r["generator_kept"]]
    assert probe["sample_is_generator"] and probe["sample_frames"] > 2
    assert probe["sample_last_status"].startswith("Done")


def test_a_wrapped_handler_still_works_on_cpu(probe):
    assert probe["stn_outputs"] == 5 and probe["stn_overlay_shape"][2] == 3
    called = [name for name, _ in probe["calls"]]
    assert "analyse" in called and "sample" in called  # they ran through the stand-in spaces.GPU
    assert dict(probe["calls"])["sample"] == 60 + checkpoints.GPU_MARGIN_S


def test_every_tab_builds_with_cpu_and_with_gpu_defaults(probe):
    assert probe["cpu_failures"] == [] and probe["gpu_failures"] == []
    grown = probe["grown_sliders"]  # what a GPU buys: larger defaults, one helper (checkpoints.budget)
    for label in ("Image size (long side, px)", "Steps (forward/backward passes)", "Training budget (seconds)",
                  "Training steps per model", "Images", "Seconds"):
        assert label in grown, (label, grown)


def test_nothing_initialises_cuda_at_import_or_build(probe):
    assert probe["cuda_inits"] == [] and probe["cuda_initialised"] is False


# --------------------------------------------------------------------------- the helper itself
def test_gpu_is_a_no_op_without_spaces(monkeypatch):
    monkeypatch.setattr(checkpoints, "_spaces", None)

    def handler(x):
        return x + 1

    assert checkpoints.gpu(handler) is handler
    assert checkpoints.gpu(duration=30)(handler) is handler


def test_gpu_keeps_generators_even_when_spaces_returns_a_plain_function(monkeypatch):
    """If a `spaces` version returned a plain function for a generator, Gradio would stop
    streaming: `gpu` re-wraps it as a generator function with the handler's signature."""
    seen = []

    def plain_gpu(task=None, *, duration=None):
        def wrap(fn):
            def wrapper(*args, **kwargs):  # returns the generator object: not a generator function
                seen.append(duration)
                return fn(*args, **kwargs)
            return wrapper
        return wrap(task) if task else wrap

    monkeypatch.setattr(checkpoints, "_spaces", types.SimpleNamespace(GPU=plain_gpu))

    def stream(n, budget_s=5, progress=None):
        yield from range(int(n))

    wrapped = checkpoints.gpu(budget=("budget_s", 20))(stream)
    assert inspect.isgeneratorfunction(wrapped)
    assert list(wrapped(3, budget_s=50)) == [0, 1, 2]
    assert list(inspect.signature(wrapped).parameters) == ["n", "budget_s", "progress"]  # gr.Progress found
    duration = seen[0]
    assert duration(3) == 5 + checkpoints.GPU_MARGIN_S  # the default budget
    assert duration(3, budget_s=50) == 20 + checkpoints.GPU_MARGIN_S  # capped as the handler caps it
    assert duration(3, 7.2) == 8 + checkpoints.GPU_MARGIN_S


def test_budget_grows_with_a_gpu(monkeypatch):
    monkeypatch.setenv("GALLERY_DEVICE", "cpu")
    assert checkpoints.budget(cpu=256, gpu=512) == 256
    monkeypatch.setenv("GALLERY_DEVICE", "cuda")  # read only: nothing is moved to the device
    assert checkpoints.budget(cpu=256, gpu=512) == 512
