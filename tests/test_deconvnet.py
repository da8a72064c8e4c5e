"""Deconvnet: the projection is backprop with rectified gradients (checked with autograd), the VGG16
remap against timm, the shipped CNN's accuracy and §4.2's localisation claim, and the tab."""
import gradio as gr
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from demos import deconvnet as demo
from papers import deconvnet
from papers.checkpoints import WeightsUnavailable

torch.set_num_threads(1)


class RectifiedGradientReLU(torch.autograd.Function):
    """ReLU forward; backward passes relu(gradient), ignoring the forward mask (§2.1 rectification)."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp(min=0)


def autograd_reference(features: nn.Sequential, x: torch.Tensor, upto: int, kept: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    y = x
    for layer in features[:upto + 1]:
        y = RectifiedGradientReLU.apply(y) if isinstance(layer, nn.ReLU) else layer(y)
    (y * kept).sum().backward()
    return x.grad


@pytest.fixture(scope="module")
def torchvision_alexnet():
    torch.manual_seed(0)
    return torchvision.models.alexnet().eval()


@pytest.mark.parametrize("net, layer", [("small", "conv3"), ("small", "conv4"), ("alexnet", "conv2"),
                                        ("alexnet", "conv5")])
def test_deconvnet_equals_backprop_with_rectified_gradients(net, layer, torchvision_alexnet):
    """Unpooling with switches + ReLU + transposed filters = autograd where only ReLU's rule changes
    (max-pool's and conv's backward are exactly unpooling and transposed filtering)."""
    torch.manual_seed(1)
    features = deconvnet.SmallCNN().features if net == "small" else torchvision_alexnet.features
    x = torch.randn(1, 1, 64, 64) if net == "small" else torch.randn(1, 3, 224, 224)
    upto = deconvnet.conv_layers(features)[layer]
    with torch.no_grad():
        maps, switches = deconvnet.forward_recording(features, x, upto)
    kept = torch.rand_like(maps) * (torch.rand_like(maps) < 0.05)  # a few activations, many zeros
    ours = deconvnet.deconvnet_backward(features, kept, switches)
    torch.testing.assert_close(ours, autograd_reference(features, x, upto, kept), rtol=1e-4, atol=1e-5)


def test_transposed_filtering_is_the_adjoint_of_a_grouped_strided_conv():
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 5, stride=3, padding=2, groups=2, bias=False)
    x = torch.randn(1, 4, 23, 23)
    y = torch.randn_like(conv(x))
    back = deconvnet.transposed_filtering(y, conv, x.shape)
    assert back.shape == x.shape
    torch.testing.assert_close((conv(x) * y).sum(), (x * back).sum(), rtol=1e-4, atol=1e-4)


def test_project_keeps_only_the_strongest_activation():
    torch.manual_seed(0)
    features = deconvnet.SmallCNN().features
    x = torch.randn(1, 1, 64, 64)
    chosen = deconvnet.project(features, x, "conv2")
    with torch.no_grad():
        maps, _ = deconvnet.forward_recording(features, x, deconvnet.conv_layers(features)["conv2"])
    assert chosen.channel == int(maps[0].flatten(1).amax(1).argmax())
    assert chosen.value == pytest.approx(float(maps.max()))
    assert chosen.pixels.shape == (1, 64, 64)
    # a conv2 unit sees a 5 + 2*1 + 2*2... window: its projection is zero far from it
    energy = chosen.pixels.abs().sum(0)
    assert (energy > 0).sum() < 20 * 20
    with pytest.raises(ValueError, match="choose a channel"):
        deconvnet.project(features, x, "conv2", channel=999)


def test_vgg16_remap_matches_timm():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    reference = timm.create_model("vgg16", pretrained=False).eval()
    with torch.device("meta"):
        ours = torchvision.models.vgg16(weights=None)
    ours.load_state_dict(deconvnet.timm_vgg_to_torchvision(reference.state_dict()), assign=True)
    ours.eval()
    x = torch.randn(1, 3, 64, 64)  # small input: both nets average-pool the 2x2 maps up to 7x7
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-5)


def test_occluder_positions_reach_the_far_edge():
    assert deconvnet.occluder_positions(64, 16, 20) == [0, 20, 40, 48]
    assert deconvnet.occluder_positions(64, 64, 1) == [0]
    with pytest.raises(ValueError):
        deconvnet.occluder_positions(64, 65, 1)
    with pytest.raises(ValueError):
        deconvnet.occluder_positions(64, 8, 0)


# --------------------------------------------------------------------------- the shipped CNN
@pytest.fixture(scope="module")
def shipped():
    model = deconvnet.small_cnn("cpu")
    images, labels, boxes = deconvnet.cluttered_digits(120, "test", seed=5)
    mean, std = deconvnet._pixel_stats()
    return model, (images - mean) / std, images, labels, boxes


def test_shipped_cnn_reads_digits_in_clutter(shipped):
    model, _, images, labels, _ = shipped
    assert deconvnet.evaluate(model, images, labels) > 0.8  # results/deconvnet.json -> test_accuracy


def test_occlusion_drops_the_probability_where_the_digit_is(shipped):
    """§4.2: the class probability falls more when the square covers the object than elsewhere."""
    model, x, _, labels, boxes = shipped
    lower_inside = 0
    for i in range(30):
        *_, maps = deconvnet.occlusion(model, x[i:i + 1], int(labels[i]), "conv4", 0, 16, 8, batch=64)
        x0, y0, x1, y1 = boxes[i].tolist()
        inside = np.zeros(maps.probability.shape, bool)
        inside[y0:y1, x0:x1] = True
        lower_inside += maps.probability[inside].mean() < maps.probability[~inside].mean()
    assert lower_inside / 30 > 0.8  # results/deconvnet.json -> occlusion_localises


# --------------------------------------------------------------------------- the tab
DIGIT = demo.example_paths("clutter_digit_9.png")[0]


def test_project_handler_on_an_example():
    recon, where, gallery, info = demo.project(DIGIT, "digits", "conv4", True, 0, False)
    assert recon.shape == where.shape == (256, 256, 3) and len(gallery) == 9
    assert "conv4" in info


def test_project_a_chosen_channel_and_whole_map():
    _, _, _, info = demo.project(DIGIT, "digits", "conv1", False, 3, True)
    assert "feature map **3**" in info and "whole map" in info
    with pytest.raises(gr.Error, match="choose a channel"):
        demo.project(DIGIT, "digits", "conv1", False, 10_000, False)


@pytest.mark.parametrize("size, stride", [(14, 4), (64, 1), (1, 32), (200, 200)])
def test_occlude_streams_to_the_end(size, stride):
    results = list(demo.occlude(DIGIT, "digits", "conv4", demo.TOP_CLASS, size, stride, 0.5))
    prob, act, labels, info = results[-1]
    assert prob.shape == act.shape == labels[:256].shape == (256, 256, 3)
    done, total = info.split(" square")[0].split("/")
    assert done == total


@pytest.mark.parametrize("image", [
    np.zeros((30, 40), np.uint8), np.full((50, 50, 4), 100, np.uint8),
    (np.random.default_rng(0).random((80, 64)) * 65535).astype(np.uint16), np.zeros((2000, 3000, 3), np.uint8),
])
def test_odd_images_work(image):
    assert demo.project(image, "digits", "conv2", True, 0, False)[0].shape == (256, 256, 3)


@pytest.mark.parametrize("image, message", [
    (None, "No image"), (np.zeros((1, 1, 3), np.uint8), "at least"), ("/nonexistent.png", "could not be read"),
])
def test_bad_images_get_a_message(image, message):
    with pytest.raises(gr.Error, match=message):
        demo.project(image, "digits", "conv4", True, 0, False)


@pytest.mark.parametrize("key", ["alexnet", "vgg16"])
def test_imagenet_backbones_without_weights_say_how_to_get_them(key):
    with pytest.raises(gr.Error, match="not available"):
        demo.project(DIGIT, key, "conv1", True, 0, False)
    note, layer, target = demo.on_backbone_change(key)
    assert "would add" in note
    assert len(layer.choices) == {"alexnet": 5, "vgg16": 13}[key]
    assert len(target.choices) == 1001


def test_unknown_layer_or_class_gets_a_message():
    with pytest.raises(gr.Error, match="Pick a layer"):
        demo.project(DIGIT, "digits", "conv9", True, 0, False)
    with pytest.raises(gr.Error, match="Pick a class"):
        list(demo.occlude(DIGIT, "digits", "conv4", "not a class", 14, 4, 0.5))


def test_a_failed_download_is_not_retried_at_once(monkeypatch):
    calls = []

    def missing(device):
        calls.append(device)
        raise WeightsUnavailable("Weights 'x' are not available. To get them: ...")

    monkeypatch.setattr(demo, "MISSING", {})
    for _ in range(2):
        with pytest.raises(gr.Error, match="not available"):
            demo.load_remembering_failure(deconvnet.VGG16, missing)
    assert len(calls) == 1


def test_batched_projections_equal_one_at_a_time(torchvision_alexnet):
    features, x = torchvision_alexnet.features, torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        maps, switches = deconvnet.forward_recording(features, x, deconvnet.conv_layers(features)["conv4"])
    channels = deconvnet.strongest_channels(maps, 3)
    batched = deconvnet.backproject(features, maps, switches, channels)
    for channel, together in zip(channels, batched):
        alone = deconvnet.project(features, x, "conv4", channel)
        torch.testing.assert_close(together.pixels, alone.pixels)
        assert together.position == alone.position
