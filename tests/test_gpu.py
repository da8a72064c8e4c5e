"""The GPU path.

Unmarked tests run everywhere: bf16 mixed precision (the autocast helper the style transfer and
the ImageNet classifiers use on CUDA) is checked against fp32 on the CPU, where bf16 autocast
also works. Tests marked `gpu` run the CUDA path itself — device placement, GPU-vs-CPU parity,
one short training step, every tab's main handler — and skip cleanly without CUDA
(`pytest -m gpu` on a GPU machine)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from papers import style_transfer as st
from papers.checkpoints import autocast

ROOT = Path(__file__).resolve().parent.parent
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
CUDA = torch.device("cuda")

# Tolerances of bf16 against fp32 (bf16 keeps 8 significant bits: ~0.4 % per rounding).
STYLE_LOSS_RTOL = 0.05  # relative difference of L_style on the same image
GRADIENT_MIN_COSINE = 0.99  # direction of dL/dpixels, what the optimiser follows
LOGITS_RTOL = 0.05  # relative L2 difference of ImageNet logits (random weights)
TF32_RTOL = 2e-2  # fp32 on CUDA vs CPU: cuDNN convolutions use TF32 (10-bit mantissa) by default


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


# --------------------------------------------------------------------------- the helper
def test_autocast_is_off_on_cpu_by_default_and_on_when_asked():
    x, w = torch.randn(4, 8), torch.randn(8, 8)
    with autocast("cpu"):
        assert (x @ w).dtype == torch.float32  # default: CUDA only
    with autocast("cpu", enabled=True):
        assert (x @ w).dtype == torch.bfloat16
    with autocast("meta", enabled=True):  # a device autocast does not cover: a no-op, no error
        pass


# --------------------------------------------------------------------------- VGG style transfer in bf16
@pytest.fixture(scope="module")
def vgg():
    """VGG-19 up to conv5_1 with random weights, rescaled as the paper does (Sec. 2)."""
    torch.manual_seed(0)
    model = st.VGG19Features("avg").eval().requires_grad_(False)
    st.normalise_mean_activation(model, st.normalisation_images(64), st.relu_layer_names(model))
    return model


def _style_loss_and_gradient(model, image, style, mixed: bool):
    x = image.clone().requires_grad_(True)
    with autocast("cpu", enabled=mixed):
        features = model(x, st.STYLE_LAYERS)
        style_features = model(style, st.STYLE_LAYERS)
    grams = {name: st.gram_matrix(f.float()) for name, f in style_features.items()}
    weights = {name: 1 / len(grams) for name in grams}
    loss = st.style_loss({name: f.float() for name, f in features.items()}, grams, weights)
    loss.backward()
    return loss.detach(), x.grad.flatten()


def test_bf16_style_loss_and_gradient_match_fp32(vgg):
    from skimage import data

    style = st.to_tensor(data.brick(), 64)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    loss32, grad32 = _style_loss_and_gradient(vgg, image, style, mixed=False)
    loss16, grad16 = _style_loss_and_gradient(vgg, image, style, mixed=True)
    assert abs(float(loss16 / loss32) - 1) < STYLE_LOSS_RTOL
    assert float(torch.nn.functional.cosine_similarity(grad16, grad32, dim=0)) > GRADIENT_MIN_COSINE


def test_synthesise_with_mixed_precision_runs_and_lowers_the_loss(vgg):
    from skimage import data

    config = st.StyleConfig(size=48, ratio=0.0, steps=6, optimiser="adam", init="noise", mixed_precision=True,
                            time_budget_s=1e9)
    history = list(st.synthesise(None, data.brick(), config, vgg, stream_every=1))
    losses = [p.style_loss for p in history]
    assert history[-1].done and history[-1].step == 6 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert history[-1].image.dtype == np.uint8 and history[-1].image.shape[2] == 3


# --------------------------------------------------------------------------- ImageNet classifiers in bf16
@pytest.mark.parametrize("name", ["alexnet", "xception"])
def test_bf16_imagenet_logits_match_fp32(name):
    torch.manual_seed(0)
    if name == "alexnet":
        from papers.alexnet import AlexNet

        model, side = AlexNet("torchvision"), 224
    else:
        from papers.xception import Xception

        model, side = Xception(), 96  # fully convolutional up to the global pool: a small input keeps it quick
    model.eval()
    x = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        fp32 = model(x)
        with autocast("cpu", enabled=True):
            bf16 = model(x)
    assert bf16.dtype == torch.bfloat16
    assert _relative(bf16, fp32) < LOGITS_RTOL


# --------------------------------------------------------------------------- the CUDA path (skipped without CUDA)
@pytest.mark.gpu
@needs_cuda
def test_shipped_models_load_onto_cuda_and_match_cpu():
    from papers import siamese, unet
    from papers import image_transformer as it

    grey = unet.standardise(unet.synthetic_cells(212, np.random.default_rng(0))[0])
    cpu, gpu = unet.pretrained("cpu"), unet.pretrained("cuda")
    assert next(gpu.parameters()).device.type == "cuda"
    np.testing.assert_allclose(unet.predict_logits(gpu, grey), unet.predict_logits(cpu, grey), atol=TF32_RTOL, rtol=TF32_RTOL)

    images = siamese.digit_data(tuple(range(7))).heldout_images[:64]
    np.testing.assert_allclose(siamese.embed(siamese.pretrained(CUDA), images),
                               siamese.embed(siamese.pretrained(torch.device("cpu")), images), atol=TF32_RTOL, rtol=TF32_RTOL)

    for attention in it.CONFIGS:  # the same seed writes the same digits on both devices
        runs = [list(it.generate(it.load_model(attention, device), 2, 1.0, seed=3))[-1][1].cpu()
                for device in (torch.device("cpu"), CUDA)]
        assert (runs[0] == runs[1]).float().mean() > 0.9  # near-ties may round differently


@pytest.mark.gpu
@needs_cuda
def test_style_transfer_on_cuda_fp32_matches_cpu_and_bf16_runs(vgg):
    from skimage import data

    gpu_vgg = st.VGG19Features("avg").eval().requires_grad_(False)
    gpu_vgg.load_state_dict(vgg.state_dict())
    gpu_vgg = gpu_vgg.to(CUDA)
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        on_cpu = vgg(image, st.STYLE_LAYERS)
        on_gpu = gpu_vgg(image.to(CUDA), st.STYLE_LAYERS)
    for name in st.STYLE_LAYERS:
        assert _relative(on_gpu[name].cpu(), on_cpu[name]) < TF32_RTOL
    for mixed in (False, True):
        config = st.StyleConfig(size=128, ratio=1e-3, steps=4, mixed_precision=mixed, time_budget_s=1e9)
        *_, last = st.synthesise(data.chelsea(), data.brick(), config, gpu_vgg, stream_every=2)
        assert last.done and np.isfinite(last.style_loss) and last.image.shape[:2] == (85, 128)


@pytest.mark.gpu
@needs_cuda
def test_one_short_training_step_on_cuda(monkeypatch):
    monkeypatch.setenv("GALLERY_DEVICE", "cuda")
    from papers import siamese, unet
    from papers import texture_bias as tb

    model = unet.build_model().to(CUDA)
    records = list(unet.train_steps(model, steps=2, batch=2))
    assert len(records) == 2 and np.isfinite(records[-1]["loss"])

    data = siamese.digit_data(tuple(range(7)))
    net = siamese.SiameseNet(data.config).to(CUDA)
    progress = list(siamese.fit(net, data, budget_s=60, max_steps=3))
    assert progress[-1].done and progress[-1].step == 3 and np.isfinite(progress[-1].loss)
    assert next(net.parameters()).device.type == "cuda"

    last = tb.final_result(tb.TrainConfig(steps=3, eval_every=2, time_budget_s=60))
    assert last.step == 3 and all(next(m.parameters()).device.type == "cuda" for m in last.models.values())


TAB_PROBE = """
import json, sys, torch
import demos
results = {}
for demo in demos.TABS:
    torch.cuda.reset_peak_memory_stats()
    try:
        demo.module.bench_default()
        results[demo.slug] = {"ok": True, "peak_mb": torch.cuda.max_memory_allocated() / 2**20}
    except Exception as exc:
        results[demo.slug] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
print(json.dumps(results))
"""


@pytest.mark.gpu
@needs_cuda
def test_every_tab_main_handler_runs_on_cuda():
    """Each tab's bench_default() (its main handler at default settings) in a process whose
    device is CUDA. Tabs whose weights are absent offline fail with WeightsUnavailable only."""
    env = {**os.environ, "GALLERY_DEVICE": "cuda"}
    out = subprocess.run([sys.executable, "-c", TAB_PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    failed = {slug: r["error"] for slug, r in results.items() if not r["ok"] and "WeightsUnavailable" not in r["error"]}
    assert not failed
    used_gpu = [slug for slug, r in results.items() if r.get("peak_mb", 0) > 0]
    assert len(used_gpu) >= len(results) // 2, results


# --------------------------------------------------------------------------- bench/run.py --device cuda
def test_bench_gpu_section_replaces_only_its_part_of_results(tmp_path, monkeypatch):
    """The GPU section's table and its place in RESULTS.md, with the probes replaced by canned
    measurements (the probes themselves need CUDA)."""
    from bench import run as bench

    for code in (bench.GPU_TAB_PROBE, bench.STYLE_STEP_PROBE):
        compile(code, "<probe>", "exec")

    def fake_probe(code, *args, env=None, **kwargs):
        assert env == {"GALLERY_DEVICE": "cuda"}
        if code is bench.GPU_TAB_PROBE:
            return {"first_s": 1.5, "warm_median_s": 0.25, "peak_gpu_mb": 812.0, "gpu": "Test GPU"}
        return {"seconds_per_step": 0.0123, "network": "VGG-19", "peak_gpu_mb": 2048.0, "precision": args[1]}

    monkeypatch.setattr(bench, "run_probe", fake_probe)
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Benchmarks\n\nCPU tables\n\n{bench.GPU_START}\nnot measured\n{bench.GPU_END}\n\n## After\n")
    monkeypatch.setattr(bench, "RESULTS", results)
    bench.write_section(bench.gpu_section(["stn", "unet"], repeats=1), bench.GPU_START, bench.GPU_END)
    text = results.read_text()
    assert text.startswith("# Benchmarks\n\nCPU tables\n\n") and text.endswith("\n\n## After\n")
    assert "not measured" not in text and "GPU: Test GPU." in text
    assert "| stn | 1.500 | 0.250 | 812 |" in text
    assert "| 1024 px | bf16 | VGG-19 | 0.0123 | 2048 |" in text
