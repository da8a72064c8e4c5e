"""Grad-CAM: parity with pytorch-grad-cam (Grad-CAM, counterfactual, Guided Backprop) on random
weights, the weakly-supervised localisation claim on the shipped CNN, and the tab."""
import copy
import re

import gradio as gr
import numpy as np
import pytest
import torch
import torchvision

from demos import gradcam as demo
from papers import deconvnet, gradcam

torch.set_num_threads(1)


pgc = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {"small": (deconvnet.SmallCNN().eval(), torch.randn(1, 1, 64, 64)),
            "alexnet": (torchvision.models.alexnet().eval(), torch.randn(1, 3, 224, 224))}


def target_layer(model, name):
    return model.features[deconvnet.conv_layers(model.features)[name]]


@pytest.mark.parametrize("net, layer, class_idx", [("small", "conv4", 3), ("small", "conv2", 7),
                                                   ("alexnet", "conv5", 281), ("alexnet", "conv3", 0)])
def test_grad_cam_matches_pytorch_grad_cam(nets, net, layer, class_idx):
    model, x = nets[net]
    ours = gradcam.grad_cam(model, target_layer(model, layer), x, class_idx)
    with pgc.GradCAM(model=model, target_layers=[target_layer(model, layer)]) as reference:
        expected = reference(input_tensor=x, targets=[ClassifierOutputTarget(class_idx)])[0]
    assert ours.shape == x.shape[-2:] and ours.min() >= 0 and ours.max() <= 1
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_counterfactual_is_grad_cam_of_the_negated_score(nets):
    """§3.3: negated gradients = Grad-CAM for the target -y^c."""
    model, x = nets["alexnet"]
    layer = target_layer(model, "conv5")
    ours = gradcam.grad_cam_maps(model, layer, x, 5).counterfactual
    with pgc.GradCAM(model=model, target_layers=[layer]) as reference:
        expected = reference(input_tensor=x, targets=[lambda out: -out[5]])[0]
    np.testing.assert_allclose(ours, expected, atol=1e-4)


@pytest.mark.parametrize("net", ["small", "alexnet"])
def test_guided_backprop_matches_pytorch_grad_cam(nets, net):
    model, x = nets[net]
    ours = gradcam.guided_backprop(model, x, 4)
    expected = pgc.GuidedBackpropReLUModel(copy.deepcopy(model), device="cpu")(x.clone(), target_category=4)
    torch.testing.assert_close(ours.permute(1, 2, 0), torch.from_numpy(expected), rtol=1e-4, atol=1e-7)
    assert not any(h for m in model.modules() for h in m._forward_hooks.values())  # hooks removed


def test_guided_grad_cam_is_the_pointwise_product():
    guided = torch.randn(3, 8, 8)
    cam = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    torch.testing.assert_close(gradcam.guided_grad_cam(guided, cam), guided * torch.from_numpy(cam))


def test_bad_class_index_is_a_value_error(nets):
    model, x = nets["small"]
    with pytest.raises(ValueError, match="outside"):
        gradcam.grad_cam(model, target_layer(model, "conv4"), x, 10)


def test_batched_grad_cam_equals_one_image_at_a_time(nets):
    model, _ = nets["small"]
    x = torch.randn(4, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    classes = torch.tensor([0, 3, 3, 9])
    layer = target_layer(model, "conv3")
    batched = gradcam.grad_cam_batch(model, layer, x, classes)
    for i in range(4):
        np.testing.assert_allclose(batched[i], gradcam.grad_cam(model, layer, x[i:i + 1], int(classes[i])), atol=1e-5)
    guided = gradcam.guided_backprop_batch(model, x, classes)
    torch.testing.assert_close(guided[2], gradcam.guided_backprop(model, x[2:3], 3), rtol=1e-4, atol=1e-7)


def test_peaks_inside_and_box_fraction():
    maps = np.zeros((2, 8, 10))
    maps[0, 2, 7] = 1  # row 2, col 7
    maps[1, 5, 1] = 1
    points = gradcam.peaks(maps)
    assert points.tolist() == [[2, 7], [5, 1]]
    boxes = np.array([[7, 2, 8, 3], [2, 5, 4, 6]])  # (x0, y0, x1, y1), exclusive ends
    assert gradcam.inside(points, boxes).tolist() == [True, False]
    assert gradcam.box_fraction(np.array([[0, 0, 4, 5], [0, 0, 2, 2]]), 8, 10) == pytest.approx((20 + 4) / 2 / 80)


def test_blur_keeps_the_mass_and_moves_the_peak_to_the_blob():
    image = torch.zeros(1, 64, 64)
    image[0, 28:34, 12:18] = 0.8  # a blob
    image[0, 30, 48] = 1.0  # one bright pixel (noise)
    blurred = gradcam.gaussian_blur(image, 3.0)
    assert float(blurred.sum()) == pytest.approx(float(image.sum()), rel=1e-3)
    assert gradcam.peaks(image)[0].tolist() == [30, 48]
    row, col = gradcam.peaks(blurred)[0]
    assert 28 <= row < 34 and 12 <= col < 18


@pytest.fixture(scope="module")
def two_digits():
    model = deconvnet.small_cnn("cpu")
    images, labels, boxes = deconvnet.two_digit_canvases(30, "test", seed=7)
    mean, std = deconvnet._pixel_stats()
    return model, images, (images - mean) / std, labels, boxes


def test_two_digit_canvases_hold_two_classes_apart(two_digits):
    _, images, _, labels, boxes = two_digits
    assert images.shape == (30, 1, 64, 64) and (labels[:, 0] != labels[:, 1]).all()
    assert (boxes[:, 0, 2] <= deconvnet.CANVAS // 2).all() and (boxes[:, 1, 0] >= deconvnet.CANVAS // 2).all()


def test_grad_cam_points_at_the_requested_digit_a_class_blind_map_cannot(two_digits):
    """The paper's claim (§3, Fig. 1), re-measured on the shipped CNN: asked for the left digit the
    peak lands on it, asked for the right one it moves there. The blurred image's peak is the same
    for both requests, so it can pass at most half of them."""
    model, images, x, labels, boxes = two_digits
    layer = target_layer(model, "conv3")
    hits = [gradcam.inside(gradcam.peaks(gradcam.grad_cam_batch(model, layer, x, labels[:, k])), boxes[:, k])
            for k in range(2)]
    blind_peak = gradcam.peaks(gradcam.gaussian_blur(images[:, 0], 6.0))
    blind = [gradcam.inside(blind_peak, boxes[:, k]) for k in range(2)]
    assert np.mean(hits) > 0.8  # stored: results/gradcam.json -> class_discrimination
    assert not (blind[0] & blind[1]).any() and np.mean(blind) <= 0.5
    assert np.mean(hits) > np.mean(blind) + 0.25


def test_pointing_game_on_the_shipped_cnn_beats_chance():
    """§4.1's weak localisation: the peak lies on the digit far more often than a random point would."""
    model = deconvnet.small_cnn("cpu")
    images, labels, boxes = deconvnet.cluttered_digits(60, "test", seed=5)
    mean, std = deconvnet._pixel_stats()
    hits = gradcam.pointing_game(model, target_layer(model, "conv3"), (images - mean) / std, labels, boxes)
    assert hits > 0.85 and gradcam.box_fraction(boxes, 64, 64) < 0.15


def test_deeper_layers_are_more_class_discriminative(two_digits):
    """results/gradcam.json -> class_discrimination per layer, re-measured on 30 canvases: the share
    of requests whose peak lands on the requested digit is far lower at conv1/conv2 than at
    conv3/conv4 (conv3 beats conv4 on this network, as the stored figures say)."""
    model, _, x, labels, boxes = two_digits
    rate = {name: np.mean([gradcam.inside(gradcam.peaks(gradcam.grad_cam_batch(
        model, target_layer(model, name), x, labels[:, k])), boxes[:, k]) for k in range(2)])
        for name in ("conv1", "conv2", "conv3", "conv4")}
    assert rate["conv1"] < rate["conv2"] < min(rate["conv3"], rate["conv4"]) - 0.3


def test_guided_backprop_barely_changes_with_the_class_grad_cam_does(two_digits):
    """results/gradcam.json -> class_sensitivity (Fig. 1) on 30 canvases: the maps for the left and the
    right digit rank the pixels alike for Guided Backprop, not for Grad-CAM at the last conv layer."""
    model, _, x, labels, _ = two_digits
    cams = [gradcam.grad_cam_batch(model, target_layer(model, "conv4"), x, labels[:, k]) for k in range(2)]
    guided = [gradcam.guided_backprop_batch(model, x, labels[:, k]).abs().sum(1) for k in range(2)]
    rho_cam, rho_guided = (float(np.mean(gradcam.rank_correlation(*maps))) for maps in (cams, guided))
    assert rho_guided > 0.8 and rho_cam < rho_guided - 0.5


def test_occlusion_map_is_the_score_drop_of_each_occluded_copy():
    torch.manual_seed(0)
    model = deconvnet.SmallCNN().eval()
    x = torch.randn(2, 1, 64, 64)
    occlusion = gradcam.occlusion_maps(model, x, patch=16, stride=24)  # rows/cols at 0, 24, 48
    assert occlusion.shape == (2, 10, 3, 3)
    covered = x[1:].clone()
    covered[..., 24:40, 48:64] = 0
    with torch.no_grad():
        expected = model(x[1:])[0] - model(covered)[0]
    torch.testing.assert_close(occlusion[1, :, 1, 2], expected, rtol=1e-4, atol=1e-5)


def test_rank_correlation_is_spearmans():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    a, b = rng.random((3, 9, 9)), rng.random((3, 9, 9))
    b[1] = a[1] ** 3  # same ranking
    a[2, :4] = 0.5  # ties
    expected = [spearmanr(a[i].ravel(), b[i].ravel())[0] for i in range(3)]
    np.testing.assert_allclose(gradcam.rank_correlation(a, b), expected, atol=1e-12)
    assert gradcam.rank_correlation(np.ones((1, 4, 4)), a[:1, :4, :4])[0] == 0.0


def test_grad_cam_is_more_faithful_to_occlusion_than_guided_backprop(monkeypatch):
    """results/gradcam.json -> faithfulness (§5.3) at a small budget (8 canvases): Grad-CAM at the
    last conv layer correlates with the occlusion maps far better than Guided Backprop and the
    class-blind image."""
    monkeypatch.setattr(gradcam, "FAITHFULNESS_CANVASES", 8)
    found = gradcam.measure_faithfulness(seed=3, quick=False)
    assert found["ours"] > found["guided_backprop"] + 0.2 and found["ours"] > found["image"] + 0.3
    assert found["guided_backprop"] > found["image"]


def test_tab_shows_the_layer_table_and_faithfulness():
    text = demo.measured_note_en()
    assert all(f"Grad-CAM at conv{n}" in text for n in range(1, 5)) and "Faithfulness (§5.3)" in text
    assert "Class sensitivity (Fig. 1)" in text and "Class sensitivity (Fig. 1)" not in demo.measured_note_zh()
    assert "\\|gradient\\|" in demo.layer_table()  # a bar inside a table cell is escaped


# --------------------------------------------------------------------------- the tab
TWO = demo.example_paths("two_digits_3_7.png")[0]


def test_explain_two_classes_side_by_side():
    labels, cam, counter, guided, guided_cam, other, guided_other, info, target, second = demo.explain(
        TWO, "digits", "conv4", "3: digit 3", "7: digit 7", 0.5)
    assert list(labels)[:2] == ["3: digit 3", "7: digit 7"]
    assert all(img.shape == (256, 256, 3) for img in (cam, counter, guided, guided_cam, other, guided_other))
    # Fig. 1's point, live: the two classes' Guided Backprop maps rank the pixels alike, Grad-CAM's do not
    rho = {name: float(value) for name, value in re.findall(r"(Grad-CAM|Guided Backprop) ρ = (-?[\d.]+)", info)}
    assert rho["Guided Backprop"] > 0.5 and rho["Grad-CAM"] < rho["Guided Backprop"] - 0.3
    # the "3" map is hot on the left half, the "7" map on the right half
    assert cam[:, :128, 0].mean() > cam[:, 128:, 0].mean() and other[:, 128:, 0].mean() > other[:, :128, 0].mean()
    assert target.choices[1][1].startswith("3:") and "digit 3" in info


def test_explain_defaults_use_top_and_second_class():
    labels, *_, info, _, _ = demo.explain(TWO, "digits", "conv3", demo.TOP_CLASS, demo.SECOND_BEST, 0.0)
    first, second = list(labels)[:2]
    assert first.split(": ")[1] in info and second.split(": ")[1] in info


@pytest.mark.parametrize("image", [
    np.zeros((30, 40), np.uint8), np.full((50, 50, 4), 100, np.uint8),
    (np.random.default_rng(0).random((80, 64)) * 65535).astype(np.uint16), np.zeros((2000, 3000, 3), np.uint8),
])
def test_odd_images_work(image):
    assert demo.explain(image, "digits", "conv4", None, None, 1.0)[1].shape == (256, 256, 3)


@pytest.mark.parametrize("image, message", [
    (None, "No image"), (np.zeros((1, 1, 3), np.uint8), "at least"), ("/nonexistent.png", "could not be read"),
])
def test_bad_images_get_a_message(image, message):
    with pytest.raises(gr.Error, match=message):
        demo.explain(image, "digits", "conv4", demo.TOP_CLASS, demo.SECOND_BEST, 0.5)


def test_bad_choices_get_a_message():
    with pytest.raises(gr.Error, match="Pick a class"):
        demo.explain(TWO, "digits", "conv4", "cat", demo.SECOND_BEST, 0.5)
    with pytest.raises(gr.Error, match="does not exist"):
        demo.explain(TWO, "digits", "conv4", "12: tabby", demo.SECOND_BEST, 0.5)
    with pytest.raises(gr.Error, match="Pick a layer"):
        demo.explain(TWO, "digits", "conv5", demo.TOP_CLASS, demo.SECOND_BEST, 0.5)
    with pytest.raises(gr.Error, match="not available"):
        demo.explain(TWO, "vgg16", "conv13", demo.TOP_CLASS, demo.SECOND_BEST, 0.5)
