"""Grad-CAM: parity with pytorch-grad-cam (Grad-CAM, counterfactual, Guided Backprop) on random
weights, the weakly-supervised localisation claim on the shipped CNN, and the tab."""
import copy

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


def test_shipped_cnn_points_at_the_digit():
    """§4.1's weakly-supervised localisation: the Grad-CAM peak lies on the digit, not the clutter."""
    model = deconvnet.small_cnn("cpu")
    images, labels, boxes = deconvnet.cluttered_digits(60, "test", seed=5)
    mean, std = deconvnet._pixel_stats()
    hits = gradcam.pointing_game(model, target_layer(model, "conv3"), (images - mean) / std, labels, boxes)
    assert hits > 0.85  # measured 0.995 (conv3) and 0.835 (conv4) on 200 test canvases; chance ~0.1


# --------------------------------------------------------------------------- the tab
TWO = demo.example_paths("two_digits_3_7.png")[0]


def test_explain_two_classes_side_by_side():
    labels, cam, counter, guided, guided_cam, other, info, target, second = demo.explain(
        TWO, "digits", "conv4", "3: digit 3", "7: digit 7", 0.5)
    assert list(labels)[:2] == ["3: digit 3", "7: digit 7"]
    assert all(img.shape == (256, 256, 3) for img in (cam, counter, guided, guided_cam, other))
    # the "3" map is hot on the left half, the "7" map on the right half
    assert cam[:, :128, 0].mean() > cam[:, 128:, 0].mean() and other[:, 128:, 0].mean() > other[:, :128, 0].mean()
    assert target.choices[1][0].startswith("3:") and "digit 3" in info


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
