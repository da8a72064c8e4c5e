"""Image Transformer, the paper's comparison at small scale: the PixelCNN baseline's masks are
causal, full attention sees every earlier pixel (local attention does not, in the comparison's
setting), bits/dim by hand, and the per-pixel NLL heat map adds up to the image's NLL."""
import math

import numpy as np
import pytest
import torch

import papers.image_transformer as it


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_pixelcnn_is_causal_by_gradients():
    """d logits(t) / d input(s) is zero for every s >= t (the current and later pixels) and
    non-zero for the pixels left of and above t."""
    torch.manual_seed(0)
    model = it.PixelCNN(it.COMPARISON_CONFIGS["pixelcnn"]).eval()
    cfg = model.cfg
    n = cfg.n_positions
    x = torch.rand(1, n, cfg.levels, requires_grad=True)
    logits = model.forward_one_hot(x)  # (1, N, levels)
    for t in range(n):
        (grad,) = torch.autograd.grad(logits[0, t].sum(), x, retain_graph=True)
        reach = grad[0].abs().sum(-1)  # (N,)
        assert reach[t:].max() == 0, f"position {t} depends on the current or a later pixel"
        if t % cfg.width:  # the pixel to the left is seen (mask A keeps it)
            assert reach[t - 1] > 0
        if t >= cfg.width:  # and the one above
            assert reach[t - cfg.width] > 0


def test_pixelcnn_masks():
    a = it.MaskedConv2d("A", 1, 1, 5).mask[0, 0]
    b = it.MaskedConv2d("B", 1, 1, 3).mask[0, 0]
    assert a.tolist() == [[1] * 5, [1] * 5, [1, 1, 0, 0, 0], [0] * 5, [0] * 5]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]


def test_full_attention_attends_to_all_earlier_pixels_and_no_later_ones():
    cfg = it.COMPARISON_CONFIGS["full"]
    assert torch.equal(it.attention_mask(cfg), torch.ones(64, 64, dtype=torch.bool).tril())
    # Gradients through a whole model: logits at t depend on every input intensity before t only.
    torch.manual_seed(0)
    model = it.ImageTransformer(cfg).eval()
    sequence = torch.randint(cfg.levels, (1, cfg.n_positions), generator=torch.Generator().manual_seed(1))
    x = model.inputs(sequence).detach().requires_grad_(True)  # position t holds intensity t-1
    logits = model.head(_forward(model, x))  # (1, N, levels)
    for t in (20, cfg.n_positions - 1):
        (grad,) = torch.autograd.grad(logits[0, t].sum(), x, retain_graph=True)
        reach = grad[0].abs().sum(-1)  # (N,)
        assert (reach[: t + 1] > 0).all() and reach[t + 1:].sum() == 0


def _forward(model, x):
    for layer in model.layers:
        x, _ = layer(x, model.allowed)
    return x


def test_local_models_do_not_reach_every_earlier_pixel_in_the_comparison():
    """The reason for the comparison's setting: after its 2 layers, the last pixel of a local
    model still cannot see the first rows (full attention can)."""
    for name in ("1d", "2d"):
        cfg = it.COMPARISON_CONFIGS[name]
        one = it.attention_mask(cfg).float()
        reach = (one @ one > 0)  # two layers
        assert not reach[-1].all(), name
    one = it.attention_mask(it.COMPARISON_CONFIGS["full"]).float()
    assert (one @ one > 0)[-1].all()


def test_bits_per_dim_by_hand():
    """Two positions, 4 levels: p(first = 2) = 1/2, p(second = 0) = 1/8 -> (1 + 3) / 2 = 2 bits/dim."""
    probs = torch.tensor([[[0.25, 0.125, 0.5, 0.125], [0.125, 0.375, 0.25, 0.25]]])
    sequence = torch.tensor([[2, 0]])
    assert float(it.bits_per_dim(probs.log(), sequence)) == pytest.approx(2.0)
    uniform = torch.zeros(1, 3, 17)
    assert float(it.bits_per_dim(uniform, torch.tensor([[0, 5, 16]]))) == pytest.approx(math.log2(17))


@pytest.mark.parametrize("name", ["1d", "2d", "pixelcnn"])
def test_heat_map_sums_to_the_images_nll(name):
    torch.manual_seed(0)
    cfg = it.COMPARISON_CONFIGS[name]
    model = it.comparison_model(name).eval()
    image = it.digit_levels("test")[3]
    heat = it.pixel_bits(model, image)
    assert heat.shape == (8, 8) and (heat > 0).all()
    nll = it.evaluate_bits_per_dim(model, image[None]) * cfg.n_positions
    assert heat.sum() == pytest.approx(nll, rel=1e-5)
    # the map is laid out on the image grid: the bits of grid pixel (r, c) are those of its sequence position
    order = it.generation_order(cfg)
    sequence = it.to_sequence(cfg, image[None])
    with torch.no_grad():
        logits = model(sequence)[0]
    t = int((order == 5 * 8 + 2).nonzero())
    expected = -torch.log_softmax(logits[t], -1)[sequence[0, t]] / math.log(2)
    assert heat[5, 2] == pytest.approx(float(expected), rel=1e-5)


def test_comparison_measure_returns_every_method_quickly():
    found = it._measure_comparison(0, quick=True)
    assert set(found) == {"ours", "local_2d", "full_attention", "pixelcnn"}
    assert all(np.isfinite(v) and 0 < v < 6 for v in found.values())
