"""AlexNet: parity with torchvision, the paper's sizes and building blocks, the weights loader, the tab."""
import dataclasses

import gradio as gr
import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from demos import alexnet as demo
from papers import alexnet
from papers.checkpoints import WeightsUnavailable, load_state_dict, sha256_file

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    return torchvision.models.alexnet().eval()


def test_torchvision_variant_matches_torchvision_logits(reference):
    ours = alexnet.AlexNet("torchvision").eval()
    ours.load_state_dict(reference.state_dict())  # strict: same keys, same shapes
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        # bit for bit by construction: the same layer types with the same arguments, applied in the
        # same order to the same tensor in one process (one thread count), so the same kernels run
        torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)


def test_original_has_the_papers_sizes():
    rows = {r.layer: r for r in alexnet.layer_table("original")}
    assert sum(r.parameters for r in rows.values()) == 60_965_224  # §3: "60 million parameters"
    assert 640_000 < sum(r.neurons for r in rows.values()) < 670_000  # abstract: "650,000 neurons"
    assert [rows[f"conv{i}"].output_shape for i in range(1, 6)] == [
        (96, 55, 55), (256, 27, 27), (384, 13, 13), (384, 13, 13), (256, 13, 13)]
    assert rows["fc6"].parameters == 256 * 6 * 6 * 4096 + 4096


def test_original_normalises_within_each_tower_and_drops_fc_outputs():
    """§3.3: LRN sums over neighbouring kernels of the same GPU; §4.2: dropout zeroes fc6/fc7 outputs."""
    model = alexnet.AlexNet("original").eval()
    lrn = next(m for m in model.features if isinstance(m, alexnet.TowerLRN))
    x = torch.rand(1, 96, 5, 5)
    y = x.clone()
    y[:, 48:] *= 3  # change only tower 2
    assert torch.equal(lrn(x)[:, :48], lrn(y)[:, :48])
    torch.testing.assert_close(lrn(x)[:, :48], alexnet.local_response_norm()(x[:, :48]))
    kinds = [type(m).__name__ for m in model.classifier]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]


def test_grouped_layers_keep_the_towers_apart():
    """§3.2: conv4 on GPU 1 sees only GPU 1's conv3 maps; conv3 sees both."""
    torch.manual_seed(0)
    model = alexnet.AlexNet("original").eval()
    convs = alexnet.named_layers(model)
    x = torch.randn(1, 384, 13, 13)
    y = x.clone()
    y[:, 192:] += torch.randn(1, 192, 13, 13)  # change only tower 2's inputs
    with torch.no_grad():
        a, b = convs["conv4"](x), convs["conv4"](y)
    # exact by construction: one grouped convolution call each, and a group's outputs are summed
    # from that group's inputs only, in the same order whatever the other group holds
    assert torch.equal(a[:, :192], b[:, :192]) and not torch.equal(a[:, 192:], b[:, 192:])
    assert convs["conv3"].groups == 1 and convs["conv2"].groups == convs["conv5"].groups == 2


def test_local_response_norm_is_equation_1():
    a = torch.rand(1, 12, 3, 3) * 50
    n, k, alpha, beta = 5, 2.0, 1e-4, 0.75
    expected = torch.empty_like(a)
    for i in range(a.shape[1]):
        lo, hi = max(0, i - n // 2), min(a.shape[1] - 1, i + n // 2)
        expected[:, i] = a[:, i] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(1)) ** beta
    torch.testing.assert_close(alexnet.local_response_norm()(a), expected)


def test_ten_crops_are_corners_centre_and_mirrors():
    rgb = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    crops = alexnet.ten_crops(rgb)
    assert crops.shape == (10, 3, 224, 224)
    torch.testing.assert_close(crops[5:], crops[:5].flip(-1))
    torch.testing.assert_close(crops[4], alexnet.preprocess(rgb)[0])  # centre crop = single-crop input


def test_ten_crops_come_from_the_central_256_square():
    """§1/§4.1: on a 256×512 image the paper keeps columns 128-383, so the corner crops start at
    columns 128 and 160 (not 0 and 288 of the whole image) and the centre crop at row 16, column 144."""
    rgb = np.random.default_rng(1).integers(0, 255, (256, 512, 3), dtype=np.uint8)
    crops = alexnet.ten_crops(rgb)
    s = alexnet.INPUT_SIZE
    for crop, (top, left) in zip(crops[:5], [(0, 128), (0, 160), (32, 128), (32, 160), (16, 144)]):
        torch.testing.assert_close(crop, alexnet.normalise(rgb[top:top + s, left:left + s])[0])
    torch.testing.assert_close(crops[5:], crops[:5].flip(-1))
    assert alexnet.ten_crop_positions() == [(0, 0), (0, 32), (32, 0), (32, 32), (16, 16)]


def test_loader_converts_an_upstream_pickle(tmp_path, monkeypatch, reference):
    """The upstream path: a torchvision .pth in a weights dir is hash-checked, converted, loaded."""
    pth = tmp_path / "alexnet-owt-random.pth"
    torch.save(reference.state_dict(), pth)
    ckpt = dataclasses.replace(alexnet.IMAGENET, filename="alexnet_test.safetensors",
                               upstream_url=f"file://{pth}", upstream_sha256=sha256_file(pth)[:8])
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(tmp_path))
    model = alexnet.AlexNet("torchvision").eval()
    model.load_state_dict(load_state_dict(ckpt, "cpu"))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))
    wrong = dataclasses.replace(ckpt, filename="alexnet_test2.safetensors", upstream_sha256="7be5be79")
    with pytest.raises(WeightsUnavailable, match="sha256 mismatch"):
        load_state_dict(wrong, "cpu")


# --------------------------------------------------------------------------- the tab
@pytest.fixture
def random_imagenet_model(monkeypatch, reference):
    import demos.deconvnet

    monkeypatch.setattr(demos.deconvnet, "MISSING", {})  # forget a failed download from an earlier test
    model = alexnet.AlexNet("torchvision").eval()
    model.load_state_dict(reference.state_dict())
    monkeypatch.setattr(alexnet, "imagenet_model", lambda device=None: model)
    return model


def test_classify_without_weights_says_how_to_get_them():
    photo = demo.example_paths("chelsea.jpg")[0]
    with pytest.raises(gr.Error, match="alexnet-owt-7be5be79.pth"):
        demo.classify(photo, True, "conv1")


def test_architecture_works_without_weights():
    rows, diagram, kernels = demo.architecture("original")
    assert rows.iloc[-1, 3] == "60,965,224"
    assert diagram.ndim == 3
    rows, _, _ = demo.architecture("torchvision")
    assert rows.iloc[-1, 3] == "61,100,840"


def test_fig3_is_never_a_random_initialisation_in_the_papers_layout():
    """No two-tower weights exist: the paper's variant shows no kernels and says why; torchvision's
    one tower is labelled as such (trained) or as a random initialisation (no weights)."""
    original = demo.kernels("original")
    assert original.value is None and "no trained weights" in original.label
    single = demo.kernels("torchvision")
    assert single.value is not None and "GPU" not in single.label.split(":")[0]
    if not demo.is_available_locally(alexnet.IMAGENET):
        assert "random initialisation" in single.label


@pytest.mark.parametrize("image", [
    np.zeros((40, 60), np.uint8),  # grey
    np.full((50, 50, 4), 200, np.uint8),  # RGBA
    (np.random.default_rng(0).random((64, 80, 3)) * 65535).astype(np.uint16),  # 16-bit
    np.zeros((3000, 200, 3), np.uint8),  # huge and thin
])
def test_classify_accepts_odd_images(random_imagenet_model, image):
    single, ten, text, maps = demo.classify(image, True, "conv2")
    assert len(single) == 5 and len(ten) == 5 and abs(sum(single.values())) <= 1 + 1e-6
    assert "Ten crops" in text and maps.ndim == 3


@pytest.mark.parametrize("image, message", [
    (None, "No image"), (np.zeros((1, 1, 3), np.uint8), "at least"), ("/nonexistent.png", "could not be read"),
])
def test_classify_rejects_bad_input(random_imagenet_model, image, message):
    with pytest.raises(gr.Error, match=message):
        demo.classify(image, False, "conv1")


def test_fig1_networks_differ_only_in_their_activation():
    relu, tanh = alexnet.Fig1Net(nn.ReLU), alexnet.Fig1Net(nn.Tanh)
    kinds = lambda m: [type(layer).__name__ for layer in m.body]  # noqa: E731
    assert [k for k in kinds(relu) if k != "ReLU"] == [k for k in kinds(tanh) if k != "Tanh"]
    assert kinds(relu).count("ReLU") == kinds(tanh).count("Tanh") == 3
    assert relu(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_fig1_epochs_to_error_is_seeded_and_capped():
    """The measurement behind results/alexnet.json -> relu_vs_tanh_epochs: reproducible per seed,
    a fraction of an epoch when the net learns fast, the cap when it cannot learn in time."""
    fast = alexnet.epochs_to_error(nn.Tanh, 0.1, seed=0, max_epochs=1)
    assert 0 < fast < 1 and fast == alexnet.epochs_to_error(nn.Tanh, 0.1, seed=0, max_epochs=1)
    assert alexnet.epochs_to_error(nn.ReLU, 1e-6, seed=0, max_epochs=1) == 1.0


def test_fig1_curve_first_crossing_is_the_stored_epochs_to_error_for_seed_0():
    """The tab's precomputed curves (demos/assets/alexnet_fig1.json) cross 25 % exactly where
    results/alexnet.json's relu_vs_tanh_epochs says seed 0 does, at the grid's best learning rate."""
    from papers import results

    saved = demo.load_fig1_asset()
    assert saved is not None and saved["seed"] == 0
    stored = results.load(demo.SLUG)["relu_vs_tanh_epochs"]
    expected = {"relu": stored["ours"]["per_seed"][0], "tanh": stored["baselines"]["tanh"]["per_seed"][0]}
    for name, curve in saved["curves"].items():
        assert curve["lr"] in alexnet.FIG1_LEARNING_RATES
        assert alexnet.first_crossing(curve["points"]) == pytest.approx(expected[name], abs=1e-5)
        assert curve["epochs_to_error"] == pytest.approx(expected[name], abs=1e-5)
    frame, text = demo.fig1_opening()
    assert set(frame["network"]) == {"ReLU", "tanh", demo.FIG1_TARGET_LABEL} and "ReLU" in text


def test_fig1_training_matches_epochs_to_error():
    """The curve and the measurement are one run: its first crossing is epochs_to_error."""
    points = list(alexnet.fig1_training(nn.Tanh, 0.1, seed=0, max_epochs=0.6))
    assert alexnet.first_crossing(points) == alexnet.epochs_to_error(nn.Tanh, 0.1, seed=0, max_epochs=1)
    assert points[0][1] is None and points[-1][0] <= 0.6


def test_fig1_live_streams_and_stops_at_its_budget():
    frames = list(demo.fig1_live(0, 0.1, 0.1, budget_s=0))
    assert len(frames) == 1 and "time budget" in frames[0][1]
    frames = []
    for frame in demo.fig1_live(0, 0.1, 0.1, budget_s=60):
        frames.append(frame)
        if len(frames) == 3:
            break
    assert len(frames) == 3 and len(frames[2][0]) > len(frames[0][0])
    assert {"ReLU", "tanh"} <= set(frames[2][0]["network"])
    with pytest.raises(gr.Error, match="Learning rates"):
        list(demo.fig1_live(0, 0, 0.1))
