"""Octave convolution: exactly a Conv2d at α = 0, Table 1's ratios, the octave structure, the tab."""
import gradio as gr
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from papers import octconv as O
from papers.checkpoints import sha256_file, REPO_WEIGHTS_DIR


@pytest.mark.parametrize("stride,padding,bias", [(1, 1, False), (2, 1, True), (1, 0, True), (2, 2, False)])
def test_alpha_zero_is_exactly_conv2d(stride, padding, bias):
    """Same weights, same sums. Not bit for bit: OctConv2d adds its bias after the convolution,
    Conv2d inside it, so float32 rounds in a different order (that differs across CPUs and
    thread counts); a wrong weight, stride or padding would be off by O(1), not 1e-6."""
    torch.manual_seed(0)
    oct_conv = O.OctConv2d(5, 7, 3, 0.0, 0.0, stride=stride, padding=padding, bias=bias)
    conv = nn.Conv2d(5, 7, 3, stride=stride, padding=padding, bias=bias)
    conv.load_state_dict(oct_conv.state_dict())  # same names, same shapes
    x = torch.randn(2, 5, 11, 13)
    torch.testing.assert_close(oct_conv(x), conv(x), rtol=1e-5, atol=1e-5)
    assert O.count_params(oct_conv) == O.count_params(conv)


def test_four_paths_written_out():
    """Y^H = f(X^H; W^HH) + up(f(X^L; W^LH)), Y^L = f(X^L; W^LL) + f(pool(X^H); W^HL), with the
    weight blocks taken from a Conv2d's weight (rows: output group, columns: input group)."""
    torch.manual_seed(0)
    layer = O.OctConv2d(8, 12, 3, 0.25, 0.5, padding=1)
    x_h, x_l = torch.randn(1, 6, 10, 10), torch.randn(1, 2, 5, 5)
    w = layer.weight
    hh, lh, hl, ll = w[:6, :6], w[:6, 6:], w[6:, :6], w[6:, 6:]
    y_h = F.conv2d(x_h, hh, padding=1) + F.interpolate(F.conv2d(x_l, lh, padding=1), scale_factor=2.0)
    y_l = F.conv2d(x_l, ll, padding=1) + F.conv2d(F.avg_pool2d(x_h, 2), hl, padding=1)
    out_h, out_l = layer((x_h, x_l))
    torch.testing.assert_close(out_h, y_h)
    torch.testing.assert_close(out_l, y_l)


def test_first_and_last_layers_take_and_give_tensors():
    first, last = O.OctConv2d(3, 8, 3, 0.0, 0.5, padding=1), O.OctConv2d(8, 4, 3, 0.5, 0.0, padding=1)
    y_h, y_l = first(torch.randn(1, 3, 12, 12))
    assert y_h.shape == (1, 4, 12, 12) and y_l.shape == (1, 4, 6, 6)
    assert last((y_h, y_l)).shape == (1, 4, 12, 12)
    with pytest.raises(ValueError):
        last(torch.randn(1, 8, 12, 12))
    with pytest.raises(ValueError):
        O.OctConv2d(4, 4, 3, 1.0, 0.5)
    with pytest.raises(ValueError, match="no high-frequency"):
        O.OctConv2d(2, 4, 3, 0.75, 0.5, padding=1)
    with pytest.raises(ValueError, match="padding"):
        O.OctConv2d(4, 4, 3, 0.5, 0.5, padding=0)
    with pytest.raises(ValueError, match="even"):
        first(torch.randn(1, 3, 11, 11))


@pytest.mark.parametrize("alpha,paper_percent", [(0.0, 100), (0.125, 82), (0.25, 67), (0.5, 44), (0.75, 30), (1.0, 25)])
def test_table_1_ratios(alpha, paper_percent):
    assert round(100 * O.mac_ratio(alpha)) == paper_percent


@pytest.mark.parametrize("alpha", O.SWEEP_ALPHAS)
def test_counted_multiply_adds_follow_table_1(alpha):
    channels, size = 32, 16
    layer = O.OctConv2d(channels, channels, 3, alpha, alpha, padding=1)
    counted = O.count_macs(layer, O.octave_shapes(layer, size))
    assert counted == pytest.approx(O.mac_ratio(alpha) * channels * channels * 9 * size * size, rel=1e-9)


def test_memory_ratio_from_shapes():
    for alpha in O.SWEEP_ALPHAS:
        high, low = O.split(64, alpha)
        assert (high * 16 * 16 + low * 8 * 8) / (64 * 16 * 16) == pytest.approx(O.memory_ratio(alpha))


def test_shifting_by_two_pixels_shifts_the_low_octave_by_one():
    """X^L lives one octave lower: a 2-pixel shift of the input is a 1-pixel shift of Y^L."""
    torch.manual_seed(0)
    layer = O.OctConv2d(3, 8, 3, 0.0, 0.5, padding=1)
    x = torch.randn(1, 3, 24, 24)
    _, y_l = layer(x)
    _, y_l_shifted = layer(torch.roll(x, 2, dims=-1))
    torch.testing.assert_close(y_l_shifted[..., 2:-2], torch.roll(y_l, 1, dims=-1)[..., 2:-2])


def test_theory_vs_measured_runs():
    points = O.theory_vs_measured(16, 8, budget_s=0.0, device=torch.device("cpu"))
    assert [p.alpha for p in points] == list(O.SWEEP_ALPHAS)
    assert all(p.counted_ratio == pytest.approx(p.theory_ratio) and p.seconds > 0 for p in points)


def test_shipped_sweep_matches_its_declaration_and_accuracy():
    path = REPO_WEIGHTS_DIR / O.SWEEP.filename
    assert sha256_file(path) == O.SWEEP.sha256 and path.stat().st_size == O.SWEEP.size_bytes
    models = O.sweep_models(torch.device("cpu"))
    assert sum(O.count_params(m) for m in models.values()) == O.SWEEP.num_params
    results = O.sweep_results(models)
    assert all(r.test_accuracy > 0.95 for r in results)  # chance is 0.10
    macs = [r.macs for r in results]
    assert macs == sorted(macs, reverse=True)


def test_frequency_maps_have_an_octave_between_them():
    model = O.sweep_models(torch.device("cpu"))[0.5]
    rgb = np.random.default_rng(0).integers(0, 256, (101, 77, 3), dtype=np.uint8)
    high, low = O.frequency_maps(model, rgb)
    assert high.shape[1] == 2 * low.shape[1] and high.shape[2] == 2 * low.shape[2]
    assert 0 <= high.min() and high.max() <= 1


# --------------------------------------------------------------------------- the tab
def test_tab_handlers_and_bad_inputs():
    from demos import octconv as D

    plot, table, note = D.measure(16, 8, 3)
    assert len(table) == len(O.SWEEP_ALPHAS) and "Table 1" in note
    for bad in [(16, 7, 3), (16, 8, 2), (0, 8, 3), (1024, 224, 7)]:
        with pytest.raises(gr.Error):
            D.measure(*bad)
    plot, table, note = D.sweep()
    assert len(table) == len(O.SWEEP_ALPHAS)
    high, low, note = D.frequency_maps(np.zeros((40, 30, 4), np.uint16), 0.25)
    assert high.dtype == np.uint8 and low.dtype == np.uint8
    with pytest.raises(gr.Error, match="No image"):
        D.frequency_maps(None, 0.5)
    with pytest.raises(gr.Error):
        D.frequency_maps(np.zeros((2, 2, 3), np.uint8), 0.5)



# --------------------------------------------------------------------------- §3.1's premise
def test_high_frequency_share_of_pure_waves():
    """A cosine above the cut is all high-frequency energy, one below it none; a map pixel of the
    low group spans two input pixels, so the same wave there is an octave lower."""
    x = torch.arange(16, dtype=torch.float64)

    def wave(cycles_per_map_pixel):
        return torch.cos(2 * torch.pi * cycles_per_map_pixel * x)[None, None, None].repeat(1, 1, 16, 1)

    assert float(O.high_frequency_share(wave(4 / 16), pixel=1)) == pytest.approx(1.0)  # 0.25 > 0.125
    assert float(O.high_frequency_share(wave(4 / 16), pixel=2)) == pytest.approx(0.0)  # 0.125, not above
    assert float(O.high_frequency_share(wave(1 / 16), pixel=1)) == pytest.approx(0.0)
    both = wave(3 / 16) + wave(7 / 16)  # 0.1875 and 0.4375 cycles per pixel, equal energy
    assert float(O.high_frequency_share(both, pixel=1)) == pytest.approx(1.0)
    assert float(O.high_frequency_share(both + wave(1 / 16), pixel=1)) == pytest.approx(2 / 3)
    # the common band drops 0.4375 (the low group cannot hold it) but keeps 0.1875 and 0.0625
    assert float(O.high_frequency_share(both + wave(1 / 16), pixel=1, band=O.COMMON_BAND)) == pytest.approx(0.5)
    assert torch.isnan(O.high_frequency_share(torch.ones(1, 1, 8, 8), pixel=1)).all()  # a flat map


def test_low_group_holds_less_high_frequency_energy():
    """results/octconv.json -> group_energy, re-measured on 60 test digits: the low group's share
    above the cut is below the high group's, over the whole spectrum and within the common band."""
    model = O.sweep_models(torch.device("cpu"))[O.ENERGY_ALPHA]
    images, _ = O.digits16("test")
    found = O.group_energy(model, images[:60])
    assert found["low"] < found["high"] - 0.05
    assert found["low_common_band"] < found["high_common_band"]
    with pytest.raises(ValueError, match="no low-frequency group"):
        O.group_energy(O.OctNet(0.0).eval(), images[:2])


def test_frequency_tab_reports_the_measured_shares():
    from demos import octconv as D

    rgb = np.random.default_rng(1).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    *_, note = D.frequency_maps(rgb, 0.5)
    assert "Measured on this image" in note and note.count("%") >= 4
    *_, flat = D.frequency_maps(np.zeros((40, 30, 3), np.uint8), 0.5)
    assert "nan" not in flat
