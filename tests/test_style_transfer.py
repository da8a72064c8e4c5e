"""Gatys style transfer: VGG-19 feature parity (torchvision, timm layout), the paper's loss
formulas against hand computations, the optimisation, and the tab's handler."""
import gradio as gr
import numpy as np
import pytest
import torch

from demos import style_transfer as demo
from demos.common import example_paths
from papers import style_transfer as st

torch.set_num_threads(1)


class TorchvisionVGG19Features(torch.nn.Module):
    """torchvision's own VGG-19 `features` (its make_layers, config "E"), without the 120M-parameter
    classifier we do not use: same module, same keys (`features.N.*`), fast to build."""

    def __init__(self):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        self.features = make_layers(cfgs["E"])


@pytest.fixture(scope="module")
def torchvision_vgg19():
    pytest.importorskip("torchvision")
    torch.manual_seed(0)
    return TorchvisionVGG19Features().eval()


def test_features_equal_torchvision_vgg19_on_random_weights(torchvision_vgg19):
    ours = st.VGG19Features(pooling="max").eval()
    ours.load_state_dict(st.vgg19_convert(torchvision_vgg19.state_dict()))
    x = torch.rand(2, 3, 48, 40)
    names = st.relu_layer_names(ours)
    assert names[-1] == "conv5_2" and len(names) == 14  # Fig. 1's deepest content layer
    ours_out = ours(x, names)
    normalised = (x - ours.mean) / ours.std
    with torch.no_grad():
        for name in names:
            reference = torchvision_vgg19.features[:ours.names.index(name) + 1](normalised)
            torch.testing.assert_close(ours_out[name], reference)


def test_timm_layout_converts_to_the_same_features():
    vgg = pytest.importorskip("timm.models.vgg")
    # timm's VGG-19 with its own keys; a 1-channel pre_logits MLP keeps it small and fast to build
    model = vgg.VGG(vgg.cfgs["vgg19"], num_classes=0, mlp_ratio=1 / 4096).eval()
    state = st.vgg19_convert(model.state_dict())
    assert not any(k.startswith(("pre_logits", "head")) for k in state)
    ours = st.VGG19Features(pooling="max").eval()
    ours.load_state_dict(state)  # strict: every key and shape matches
    assert sum(v.numel() for v in state.values()) == st.VGG19_IMAGENET.num_params
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        reference = model.features[:len(st.vgg19_layer_names())]((x - ours.mean) / ours.std)
    torch.testing.assert_close(ours(x, ["conv5_2"])["conv5_2"], reference)


def test_average_pooling_option_replaces_every_max_pool():
    model = st.VGG19Features(pooling="avg")
    kinds = {type(m) for m in model.features if "Pool" in type(m).__name__}
    assert kinds == {torch.nn.AvgPool2d}
    with pytest.raises(ValueError):
        st.VGG19Features(pooling="median")


def test_normalisation_makes_mean_activations_one_and_keeps_directions(torchvision_vgg19):
    model = st.VGG19Features(pooling="avg")
    model.load_state_dict(st.vgg19_convert(torchvision_vgg19.state_dict()))
    images = torch.rand(3, 3, 32, 32)
    names = st.relu_layer_names(model)
    before = model(images, names)
    st.normalise_mean_activation(model, images, names)
    after = model(images, names)
    for name in names:
        mean = before[name].mean(dim=(0, 2, 3))
        alive = mean > 1e-8
        torch.testing.assert_close(after[name].mean(dim=(0, 2, 3))[alive], torch.ones(int(alive.sum())),
                                   rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(after[name] * torch.where(alive, mean, 1).view(1, -1, 1, 1), before[name],
                                   rtol=1e-4, atol=1e-5)


def test_gram_and_losses_match_a_hand_computation():
    # Two filters (N = 2) over three positions (M = 3).
    f = torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]).view(1, 2, 1, 3)
    gram = st.gram_matrix(f)[0]
    # G_11 = 1+4+0 = 5, G_12 = 0+2+0 = 2, G_22 = 0+1+9 = 10
    torch.testing.assert_close(gram, torch.tensor([[5.0, 2.0], [2.0, 10.0]]))
    target = torch.zeros(2, 2)[None]
    # E = (25 + 4 + 4 + 100) / (4 · 2² · 3²) = 133 / 144
    torch.testing.assert_close(st.layer_style_loss(f, target), torch.tensor(133 / 144))
    # L_content = ½ Σ (F − P)²: with P = 0, ½ (1 + 4 + 1 + 9) = 7.5
    torch.testing.assert_close(st.content_loss(f, torch.zeros_like(f)), torch.tensor(7.5))
    grams = {"a": target, "b": st.gram_matrix(f)}
    features = {"a": f, "b": f}
    torch.testing.assert_close(st.style_loss(features, grams, {"a": 0.5, "b": 0.5}), torch.tensor(0.5 * 133 / 144))
    torch.testing.assert_close(st.total_loss(torch.tensor(2.0), torch.tensor(3.0), 1e-3, 1.0),
                               torch.tensor(2e-3 + 3.0))


def test_colour_preservation_round_trip_and_luminance_matching():
    rgb = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(st.yiq_to_rgb(st.rgb_to_yiq(rgb)), rgb, rtol=1e-4, atol=1e-5)
    style_y, content_y = torch.rand(1, 1, 8, 8) * 0.2, torch.rand(1, 1, 8, 8)
    matched = st.match_luminance(style_y, content_y)
    torch.testing.assert_close(matched.mean(), content_y.mean())
    torch.testing.assert_close(matched.std(), content_y.std())


def test_recolour_keeps_the_outputs_luminance_and_the_contents_chroma():
    """Gatys et al. 2016b: output luminance Y (from all three channels) + content I, Q."""
    generator = torch.Generator().manual_seed(0)
    output = 0.3 + 0.4 * torch.rand(1, 3, 6, 6, generator=generator)  # coloured: R != Y
    content = 0.3 + 0.4 * torch.rand(1, 3, 6, 6, generator=generator)
    mixed = st.rgb_to_yiq(st.recolour(output, content))
    torch.testing.assert_close(mixed[:, :1], st.rgb_to_yiq(output)[:, :1], atol=1e-5, rtol=0)
    torch.testing.assert_close(mixed[:, 1:], st.rgb_to_yiq(content)[:, 1:], atol=1e-5, rtol=0)


def _unclipped_chroma(rgb_uint8: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    rgb = torch.from_numpy(rgb_uint8.astype(np.float32) / 255).permute(2, 0, 1)[None]
    inside = ((rgb_uint8 > 2) & (rgb_uint8 < 253)).all(axis=2)  # recolour clamps: clipped pixels lose chroma
    return st.rgb_to_yiq(rgb)[0, 1:], inside


def tiny_vgg():
    torch.manual_seed(0)
    model = st.VGG19Features("avg")
    st.normalise_mean_activation(model, st.normalisation_images(32), st.relu_layer_names(model))  # as vgg19() does
    return model.eval().requires_grad_(False)


@pytest.mark.parametrize("optimiser", st.OPTIMISERS)
def test_optimisation_lowers_the_total_loss(optimiser):
    rng = np.random.default_rng(0)
    content = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    style = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    config = st.StyleConfig(size=32, ratio=1e-3, steps=12, optimiser=optimiser, init="noise")
    progress = list(st.synthesise(content, style, config, tiny_vgg(), stream_every=1))
    assert len(progress) >= 2 and progress[-1].done and progress[-1].step >= 12
    assert progress[-1].image.shape == (32, 32, 3)
    assert progress[-1].reason == "steps done"
    first, last = progress[0], progress[-1]
    assert 1e-3 * last.content_loss + last.style_loss < 1e-3 * first.content_loss + first.style_loss


def test_texture_synthesis_with_the_random_network_matches_the_grams_better():
    style = np.kron(np.indices((8, 8)).sum(0) % 2, np.ones((6, 6)))[..., None].repeat(3, 2) * 255
    config = st.StyleConfig(size=48, ratio=0.0, steps=12, init="content")
    progress = list(st.synthesise(None, style.astype(np.uint8), config, st.random_multiscale("cpu")))
    assert progress[-1].content_loss == 0.0  # α = 0: no content term
    assert progress[-1].style_loss < 0.5 * progress[0].style_loss


def test_time_budget_stops_the_optimisation():
    style = np.full((32, 32, 3), 128, np.uint8)
    config = st.StyleConfig(size=32, ratio=0.0, steps=1000, time_budget_s=0.0)
    *_, last = st.synthesise(None, style, config, st.random_multiscale("cpu"))
    assert last.done and last.step < 10 and "budget" in last.reason


def test_size_is_capped_on_a_cpu():
    side, note = st.allowed_side(2048, torch.device("cpu"))
    assert side == st.MAX_SIDE["cpu"] and "512" in note
    assert st.allowed_side(256, torch.device("cpu")) == (256, None)


def test_checkpoint_declares_its_sources():
    ckpt = st.VGG19_IMAGENET
    assert ckpt.repo_id == "timm/vgg19.tv_in1k" and ckpt.hub_filename == "model.safetensors"
    assert ckpt.upstream_url.endswith("vgg19-dcbb9e9d.pth")


# --------------------------------------------------------------------------- the tab's handler
def run_tab(content, style, network=demo.RANDOM, texture_only=True, size=48, steps=3):
    return list(demo.run(content, style, network, -3.0, texture_only, size, steps, "lbfgs", "content", "avg",
                         False, 30))


def test_handler_streams_and_ends_with_a_before_after_pair():
    outputs = run_tab(*example_paths("chelsea.jpg", "brick.png"), texture_only=False)
    image, curves, status, slider = outputs[-1]
    assert image.shape[2] == 3 and max(image.shape[:2]) == 48
    assert set(curves["term"]) == {demo.STYLE_TERM}  # the random network forces texture synthesis
    assert "random-weight" in status and "texture synthesis" in status
    assert slider[0].shape == slider[1].shape


def test_handler_without_vgg_weights_says_how_to_get_them():
    if st.vgg19_local():
        pytest.skip("VGG-19 weights are installed here")
    with pytest.raises(gr.Error, match="VGG-19"):
        run_tab(*example_paths("chelsea.jpg", "brick.png"), network=demo.VGG, texture_only=False)


@pytest.mark.parametrize("style", [None, np.zeros((1, 1, 3), np.uint8), "/nonexistent.png"])
def test_handler_bad_style_image_is_a_message(style):
    with pytest.raises(gr.Error):
        run_tab(None, style)


def test_handler_missing_content_for_transfer_is_a_message():
    with pytest.raises(gr.Error, match="No image"):
        run_tab(None, example_paths("brick.png")[0], network=demo.VGG, texture_only=False)


def test_handler_accepts_grey_rgba_and_16_bit_styles():
    rgba = np.random.default_rng(0).integers(0, 256, (40, 40, 4), dtype=np.uint8)
    grey16 = np.random.default_rng(1).integers(0, 65535, (40, 40), dtype=np.uint16)
    for style in (rgba, grey16):
        assert run_tab(None, style, steps=1)[-1][0].shape == (48, 48, 3)


def test_handler_with_vgg_does_content_transfer_with_colour_preservation(monkeypatch):
    """The VGG-19 path of the tab, with random (normalised) weights standing in for ImageNet's."""
    monkeypatch.setattr(st, "vgg19", lambda pooling="avg": tiny_vgg())
    outputs = list(demo.run(*example_paths("chelsea.jpg", "coffee.jpg"), demo.VGG, -3.0, False, 32, 4, "adam",
                            "content", "avg", True, 30))
    image, curves, status, (before, after) = outputs[-1]
    assert set(curves["term"]) == {demo.STYLE_TERM, demo.CONTENT_TERM}
    assert "α/β = 1e-03" in status and "random-weight" not in status
    assert after.shape == before.shape == (21, 32, 3)  # chelsea is 451x300
    # Colour preservation: the result's chroma (I, Q) is the content's, pixel by pixel.
    result_iq, inside = _unclipped_chroma(after)
    content_iq, _ = _unclipped_chroma(before)
    assert inside.mean() > 0.5
    assert (result_iq - content_iq).abs()[:, torch.from_numpy(inside)].max() < 0.01  # 8-bit rounding only
    assert not np.array_equal(after, before)  # the luminance did change


def test_handler_very_elongated_image_is_a_message():
    strip = np.random.default_rng(0).integers(0, 256, (8, 400, 3), dtype=np.uint8)
    with pytest.raises(gr.Error, match="short side"):
        run_tab(None, strip, size=64)


@pytest.mark.parametrize("log_ratio", [demo.LOG_RATIO[0], demo.LOG_RATIO[1]])
def test_handler_ratio_slider_extremes(monkeypatch, log_ratio):
    monkeypatch.setattr(st, "vgg19", lambda pooling="avg": tiny_vgg())
    *_, (image, _, status, _) = demo.run(*example_paths("chelsea.jpg", "brick.png"), demo.VGG, log_ratio, False,
                                         32, 2, "lbfgs", "noise", "max", False, 30)
    assert image.dtype == np.uint8 and "stopped after" in status


def test_the_tab_opens_on_the_precomputed_texture_and_its_falling_loss():
    """The shipped opening result (python -m demos.style_transfer): an image of the configured
    size whose style loss fell over the optimisation, shown with brick.png before/after."""
    from demos import style_transfer as demo

    image, curve, (before, after) = demo._opening()
    assert max(image.shape[:2]) == demo.PRECOMPUTED["size"] and after is image and before.shape == image.shape
    style = curve.sort_values("step")["loss"].to_numpy()
    assert set(curve["term"]) == {demo.STYLE_TERM} and style[-1] < style[0] - 1  # >10× lower (log10)
