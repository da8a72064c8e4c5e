"""Xception: parity with timm's legacy_xception, the paper's sizes, the counters, the tab."""
import dataclasses

import gradio as gr
import numpy as np
import pytest
import torch
from torch import nn

from papers import xception as X
from papers.checkpoints import sha256_file

SMALL = (1, 3, 71, 71)  # the smallest input Keras' Xception accepts; cheap on a CPU


@pytest.fixture(scope="module")
def timm_model():
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model("legacy_xception").eval()
    for m in model.modules():  # non-trivial BN statistics, so a mis-mapped BN shows
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model


@pytest.fixture(scope="module")
def ours(timm_model):
    model = X.Xception().eval()
    model.load_state_dict(X.from_timm(timm_model.state_dict()), strict=True)
    return model


def test_logits_match_timm_legacy_xception(timm_model, ours):
    x = torch.randn(SMALL)
    with torch.no_grad():
        expected, actual = timm_model(x), ours(x)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def test_parameter_count_is_table_3s(ours):
    assert X.count_params(ours) == X.PAPER_PARAMS == 22_855_952


def test_36_conv_layers_in_14_modules(ours):
    separable = [m for m in ours.modules() if isinstance(m, X.SeparableConv2d)]
    stem_convs = [m for m in ours.stem if isinstance(m, nn.Conv2d)]
    assert len(separable) + len(stem_convs) == 36
    residual = [m for m in ours.modules() if isinstance(m, X.XceptionModule)]
    assert len(residual) == 12  # + the stem and the exit convolutions: 14 modules, 12 with residuals
    assert len(ours.middle_flow) == 8
    assert X.conv_layer_counts(ours) == {"conv_layers": 36, "stem_convs": 2, "separable_convs": 34,
                                         "residual_modules": 12}


def test_xception_does_more_multiply_adds_than_inception_v3():
    """The intro's claim (results/xception.json: xception_macs vs inception_v3_macs), on the meta
    device: shapes only, no arithmetic."""
    with torch.device("meta"):
        xception, inception = X.Xception().eval(), X.inception_v3().eval()
    assert X.count_macs(xception, X.IMAGE_SHAPE) > 1.3 * X.count_macs(inception, X.IMAGE_SHAPE)
    assert X.count_params(xception) < X.count_params(inception)


def test_separable_conv_is_linear_no_activation_between():
    """§4.7: depthwise then pointwise with no non-linearity: the block is a linear map."""
    torch.manual_seed(0)
    sep = X.SeparableConv2d(4, 6)
    a, b = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    torch.testing.assert_close(sep(2 * a - 3 * b), 2 * sep(a) - 3 * sep(b), rtol=1e-5, atol=1e-5)
    assert sep.depthwise.groups == 4 and sep.depthwise.weight.shape == (4, 1, 3, 3)
    assert sep.pointwise.weight.shape == (6, 4, 1, 1)


def test_from_timm_rejects_unknown_keys():
    with pytest.raises(KeyError):
        X.from_timm({"head.weight": torch.zeros(1)})


def test_counters_against_hand_computed_values():
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    assert X.count_params(conv) == 16 * 8 * 9
    assert X.count_macs(conv, (1, 8, 10, 10)) == 16 * 8 * 9 * 10 * 10
    depthwise = nn.Conv2d(8, 8, 5, padding=2, groups=8)
    assert X.count_params(depthwise) == 8 * 25 + 8
    assert X.count_macs(depthwise, (1, 8, 6, 6)) == 8 * 25 * 6 * 6
    assert X.count_macs(nn.Linear(20, 5), (1, 20)) == 20 * 5
    assert X.count_macs(conv, (3, 8, 10, 10)) == 3 * 16 * 8 * 9 * 10 * 10  # batch counts
    sep = X.SeparableConv2d(12, 24, 3)
    assert X.count_macs(sep, (1, 12, 7, 7)) == (12 * 9 + 12 * 24) * 7 * 7
    inception = X.InceptionStyle(12, 3, segments=3)
    assert X.count_macs(inception, (1, 12, 7, 7)) == (12 * 12 + 12 * (12 // 3) * 9) * 7 * 7


def test_count_macs_of_the_whole_network(ours):
    """Hand count for 71×71: the stem convolutions plus every separable/1×1/linear layer."""
    assert X.count_macs(ours, (1, 3, 71, 71)) == _hand_count_71()


def _hand_count_71() -> int:
    def conv(cin, cout, k, side):
        return cin * cout * k * k * side * side

    def sep(cin, cout, side):
        return (cin * 9 + cin * cout) * side * side

    total = conv(3, 32, 3, 35) + conv(32, 64, 3, 33)  # 71 -> 35 -> 33
    side, width = 33, 64
    for out in (128, 256, 728):  # entry modules: two separable convs, pool, 1×1/2 shortcut
        half = (side + 1) // 2
        total += sep(width, out, side) + sep(out, out, side) + conv(width, out, 1, half)
        side, width = half, out
    total += 8 * 3 * sep(728, 728, side)  # middle flow
    half = (side + 1) // 2
    total += sep(728, 728, side) + sep(728, 1024, side) + conv(728, 1024, 1, half)
    total += sep(1024, 1536, half) + sep(1536, 2048, half) + 2048 * 1000
    return total


def test_explorer_reports_consistent_costs():
    rows = X.explore(24, 3, 8, device=torch.device("cpu"), budget_s=0.0)
    by_name = {r.name.strip(): r for r in rows}
    regular = by_name["regular convolution"]
    separable = by_name["depthwise separable (Xception)"]
    assert regular.macs == 24 * 24 * 9 * 64 and regular.params == 24 * 24 * 9
    assert separable.macs == by_name["↳ its depthwise part"].macs + by_name["↳ its pointwise part"].macs
    assert all(r.seconds > 0 for r in rows)
    with pytest.raises(ValueError, match="multiply-adds"):
        X.explore(768, 9, 112, max_macs=10**9)


def test_preprocess_shape_and_range():
    rgb = np.random.default_rng(0).integers(0, 256, (120, 400, 3), dtype=np.uint8)
    x = X.preprocess(rgb)
    assert x.shape == (1, 3, 299, 299) and -1.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_filter_images(ours):
    depthwise, pointwise = X.depthwise_image(ours), X.pointwise_image(ours)
    assert depthwise.dtype == np.uint8 and depthwise.ndim == 3
    assert pointwise.shape == (128 * 4, 64 * 4, 3)
    sizes = X.first_block_sizes(ours)
    assert (sizes["depthwise"], sizes["pointwise"], sizes["regular"]) == (64 * 9, 128 * 64, 64 * 128 * 9)


# --------------------------------------------------------------------------- the tab
def test_tab_measure_and_bad_inputs():
    from demos import xception as D

    table, note = D.measure(48, 3, 8)
    assert len(table) == 5 and "fewer multiply-adds" in note
    for bad in [(0, 3, 8), (48, 4, 8), (48, 3, 100000), (10**9, 9, 224)]:
        with pytest.raises(gr.Error):
            D.measure(*bad)


def test_tab_classify_without_weights_says_how_to_get_them(monkeypatch, tmp_path):
    import urllib.request

    from demos import xception as D

    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", _offline)
    X.imagenet_model.cache_clear()
    with pytest.raises(gr.Error, match="not available"):
        D.classify(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(gr.Error, match="No image"):
        D.classify(None)
    with pytest.raises(gr.Error):
        D.classify(np.zeros((1, 1, 3), np.uint8))
    depthwise, pointwise, text = D.filters()
    assert depthwise is None and "73,728" in text and "not available" in text


def _offline(*args, **kwargs):
    raise OSError("offline (test)")



def test_upstream_file_is_verified_converted_and_classifies(timm_model, tmp_path, monkeypatch):
    """The whole weights path with a stand-in for the upstream file (timm's layout, random
    weights, no BN batch counters like the 2017 file): hash check, torch.load(weights_only),
    from_timm, safetensors cache, our model, the tab's top-5."""
    from demos import xception as D

    upstream = tmp_path / X.IMAGENET.upstream_filename
    torch.save({k: v for k, v in timm_model.state_dict().items() if "num_batches_tracked" not in k}, upstream)
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("GALLERY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(X, "IMAGENET", dataclasses.replace(X.IMAGENET, upstream_sha256=sha256_file(upstream)))
    X.imagenet_model.cache_clear()
    try:
        labels = D.classify(np.full((120, 90, 3), 128, np.uint8))
        model = X.imagenet_model()
        x = torch.randn(SMALL)
        with torch.no_grad():
            torch.testing.assert_close(model(x), timm_model(x), rtol=1e-4, atol=1e-5)
    finally:
        X.imagenet_model.cache_clear()
    assert len(labels) == 5 and all(0 <= p <= 1 for p in labels.values())
    assert (tmp_path / "cache" / X.IMAGENET.filename).is_file()
