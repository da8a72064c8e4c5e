"""Harmonic Networks: the circular-harmonic filters, exact equivariance at 90° (maps turn, order-m
streams gain e^{imθ}), measured equivariance in between, the shipped models and the tab."""
import colorsys
import math
from collections import Counter

import numpy as np
import pytest
import torch

from papers import harmonic
from papers.checkpoints import is_available_locally

torch.set_num_threads(1)


def _rot90(x, k=1):
    return torch.rot90(x, k, dims=(-2, -1))  # counter-clockwise on screen


def test_filter_is_a_circular_harmonic():
    """Turning a W_m filter by 90° multiplies it by e^{imπ/2} (Eq. 5): sampled exactly on the grid."""
    basis, angle = harmonic.ring_basis(5, 0.5), harmonic.polar_grid(5)[1]
    radial, phase = torch.randn(1, 1, 3, dtype=torch.float64), torch.rand(1, 1, dtype=torch.float64)
    for m in (-1, 0, 1, 2):
        real, imag = harmonic.harmonic_filters(radial, phase, m, basis, angle)
        w = torch.complex(real, imag)[0, 0]
        turned = _rot90(w)  # W(R^{-1} x)
        assert torch.allclose(turned, w * complex(math.cos(-m * math.pi / 2), math.sin(-m * math.pi / 2)), atol=1e-12)
        if m:
            assert w[2, 2] == 0  # no phase at r = 0


def test_complex_block_is_complex_multiplication():
    a, b, u, v = torch.randn(4, dtype=torch.float64)
    block = harmonic.complex_block(a.reshape(1, 1, 1, 1), b.reshape(1, 1, 1, 1))[:, :, 0, 0]
    out = block @ torch.stack([u, v])
    assert torch.allclose(torch.complex(*out), torch.complex(a, b) * torch.complex(u, v))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_hnet_is_exactly_equivariant_to_quarter_turns(k):
    torch.manual_seed(k)
    model = harmonic.HNet().double().eval()
    x = torch.rand(2, 1, 28, 28, dtype=torch.float64)
    with torch.no_grad():
        for layer in range(len(model.cfg.widths)):
            maps, turned_maps = model.feature_maps(x, layer), model.feature_maps(_rot90(x, k), layer)
            expected = harmonic.turn_phases(_rot90(maps, k), 90 * k)
            assert torch.allclose(turned_maps, expected, atol=1e-10)
            streams = harmonic.split_streams(turned_maps)
            assert streams[1].abs().max() > 1e-3  # the order-1 stream is not trivially zero
        assert torch.allclose(model(x), model(_rot90(x, k)), atol=1e-10)  # invariant logits


def test_plain_cnn_is_not_equivariant():
    torch.manual_seed(0)
    model = harmonic.PlainCNN().eval()
    assert harmonic.equivariance_error(model, torch.rand(2, 1, 28, 28), 90, 1) > 0.1


def test_rotate_matches_rot90_and_measured_error_is_smaller_for_hnet():
    x = harmonic.digits("test")[0][:4]
    assert torch.allclose(harmonic.rotate(x, 90), _rot90(x), atol=1e-5)
    torch.manual_seed(0)
    hnet, cnn = harmonic.HNet().eval(), harmonic.PlainCNN().eval()
    assert harmonic.equivariance_error(hnet, x, 90, 2) < 1e-5
    for angle in (20, 45):
        assert harmonic.equivariance_error(hnet, x, angle, 1) < harmonic.equivariance_error(cnn, x, angle, 1)


def test_gradients_reach_radial_profiles_and_phases():
    model = harmonic.HNet()
    model(torch.rand(2, 1, 28, 28)).sum().backward()
    conv = model.features[0]
    assert conv.radial.grad.abs().sum() > 0 and conv.phase.grad.abs().sum() > 0


needs_weights = pytest.mark.skipif(
    not all(is_available_locally(c) for c in harmonic.CHECKPOINTS.values()), reason="harmonic weights not shipped")


def test_stated_parameter_counts():
    assert harmonic.PARAMS == {kind: sum(p.numel() for p in harmonic.MODELS[kind]().parameters())
                               for kind in harmonic.MODELS}


def test_train_seeds_before_building_the_model():
    """`train X:variant` equals the same variant in the full run: `trained` seeds, then builds."""
    torch.manual_seed(123)
    a = harmonic.trained("cnn", False, seed=0, steps=2)
    torch.rand(1000)  # whatever ran before must not matter
    b = harmonic.trained("cnn", False, seed=0, steps=2)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@needs_weights
def test_shipped_hnet_accuracy_is_the_same_at_quarter_turns():
    acc = harmonic.accuracy_vs_angle(harmonic.load_model("hnet_upright"), angles=(0, 90, 180, 270))
    assert len(set(acc.values())) == 1


@needs_weights
def test_plotted_accuracy_curves_re_measure():
    """The tab's accuracy-vs-angle plot (stored with each checkpoint by `train`) is what the
    shipped checkpoints measure now."""
    for variant, angles in (("cnn_upright", harmonic.TEST_ANGLES), ("hnet_upright", (0, 45)),
                            ("cnn_rotated", (0, 45)), ("hnet_rotated", (30,))):
        stored = harmonic.CHECKPOINTS[variant].extra["accuracy_vs_angle"]
        measured = harmonic.accuracy_vs_angle(harmonic.load_model(variant), angles=angles)
        for angle in angles:
            assert measured[angle] == pytest.approx(stored[angle], abs=0.3), (variant, angle)


@needs_weights
def test_hnet_beats_cnn_on_turned_digits_when_trained_upright():
    """The paper's claim, re-measured from the shipped checkpoints: trained on upright digits only,
    the H-Net errs far less than the CNN on test digits turned to random angles."""
    images, labels = harmonic.rotated_test_set(seed=0)
    hnet = harmonic.error_percent(harmonic.load_model("hnet_upright"), images, labels)
    cnn = harmonic.error_percent(harmonic.load_model("cnn_upright"), images, labels)
    assert hnet < 0.5 * cnn


# --------------------------------------------------------------------------- the tab's handlers
gr = pytest.importorskip("gradio")
demo = pytest.importorskip("demos.harmonic")


@needs_weights
@pytest.mark.parametrize("angle,layer,regime", [(40, 1, 0), (0, 4, 1), (360, 1, 0)])
def test_turn_handler(angle, layer, regime):
    image, hnet_maps, cnn_maps, hnet_probs, cnn_probs, phase = demo.turn(
        demo.SOURCES[0], 3, None, angle, layer, demo.REGIMES[regime])
    assert image.shape == (168, 168) and hnet_maps.ndim == 3 and len(hnet_probs) == 10
    assert phase.ndim == 3 and phase.shape[2] == 3 and phase.dtype == np.uint8


def test_turn_handler_bad_inputs():
    for args in [(demo.SOURCES[1], 0, None, 0, 1, demo.REGIMES[0]),
                 (demo.SOURCES[0], 99_999, None, 0, 1, demo.REGIMES[0]),
                 (demo.SOURCES[0], 0, None, 0, 9, demo.REGIMES[0])]:
        with pytest.raises(gr.Error):
            demo.turn(*args)


@needs_weights
def test_equivariance_handler_and_tables():
    frame = demo.equivariance(2, demo.REGIMES[0])
    hnet = frame[(frame["network"] == "H-Net") & (frame["angle (°)"] % 90 == 0)]
    assert hnet["relative error"].max() < 1e-4
    assert len(frame) == 3 * len(demo.EQUIVARIANCE_ANGLES)  # H-Net, CNN and the check's own floor
    assert len(demo.accuracy_frame()) == 4 * len(harmonic.TEST_ANGLES)
    assert "H-Net" in demo.results_table()


# --------------------------------------------------------------------------- phase pictures, the check's floor, confusions
def test_hsv_to_rgb_is_the_standard_map():
    hsv = torch.rand(200, 3, dtype=torch.float64)
    rgb = harmonic.hsv_to_rgb(hsv[:, 0], hsv[:, 1], hsv[:, 2])
    expected = torch.tensor([colorsys.hsv_to_rgb(*row.tolist()) for row in hsv], dtype=torch.float64)
    assert torch.allclose(rgb, expected, atol=1e-12)


def _hues(picture: torch.Tensor) -> torch.Tensor:
    """The hue of each pixel of an RGB picture (h, w, 3), read back with colorsys."""
    return torch.tensor([[colorsys.rgb_to_hsv(*px)[0] for px in row] for row in picture.double().tolist()])


@pytest.mark.parametrize("layer", [0, 2])
def test_phase_picture_cycles_by_the_turn_at_quarter_turns(layer):
    """Eq. 6 on the network's own grid: turning the input by 90° turns the order-1 stream's maps
    by 90° and adds a quarter turn to every phase, so each pixel's hue in the colour picture moves
    by 0.25 (exactly, up to float rounding)."""
    torch.manual_seed(layer)
    model = harmonic.HNet().double().eval()
    x = torch.rand(1, 1, 28, 28, dtype=torch.float64)
    z, z_turned = harmonic.order_stream(model, x, layer), harmonic.order_stream(model, _rot90(x), layer)
    assert torch.allclose(z_turned, _rot90(z) * 1j, atol=1e-10)  # e^{iθ}, θ = 90°
    strong = _rot90(z).abs() > 1e-3 * z.abs().max()
    shift = torch.remainder(harmonic.phase_hue(z_turned) - _rot90(harmonic.phase_hue(z)), 1.0)[strong]
    assert torch.allclose(shift, torch.full_like(shift, 0.25), atol=1e-8)
    top = z.abs().max().item()
    for channel in range(2):
        picture, turned = harmonic.phase_picture(z[channel], top), harmonic.phase_picture(z_turned[channel], top)
        assert torch.allclose(turned, harmonic.phase_picture(_rot90(z[channel]) * 1j, top), atol=1e-6)
        keep = strong[channel] & (_rot90(z[channel]).abs() > 0.05 * top)  # bright enough to read a hue back
        hue_shift = torch.remainder(_hues(turned) - _hues(_rot90(picture.permute(2, 0, 1)).permute(1, 2, 0)), 1.0)[keep]
        assert keep.any() and torch.allclose(hue_shift, torch.full_like(hue_shift, 0.25), atol=1e-4)


def test_learned_filters_are_the_conv_weights_and_circular_harmonics():
    torch.manual_seed(0)
    model = harmonic.HNet().double()
    conv = [m for m in model.features if isinstance(m, harmonic.HConv2d)][1]  # orders {0, 1} -> {0, 1}
    found = harmonic.learned_filters(model, 1)
    assert set(found) == {(0, 0), (1, 0), (0, 1), (1, 1)}
    weight, o, i = conv.weight().detach(), conv.out_channels, conv.in_channels
    for (m_in, m_out), w in found.items():
        rows, cols = slice(2 * o * m_out, 2 * o * m_out + o), slice(2 * i * m_in, 2 * i * m_in + i)
        assert torch.equal(w.real, weight[rows, cols]) and torch.equal(w.imag, weight[rows.start + o:rows.stop + o, cols])
        m = m_out - m_in
        assert torch.allclose(_rot90(w), w * complex(math.cos(-m * math.pi / 2), math.sin(-m * math.pi / 2)), atol=1e-12)
    with pytest.raises(ValueError):
        harmonic.learned_filters(model, len(model.cfg.widths) + 1)


def test_resampling_floor_is_the_round_trip_error_of_the_check():
    maps = torch.rand(2, 3, 14, 14)
    mask = harmonic.disc_mask(14)
    for angle in (30, 45):
        back = harmonic.rotate(harmonic.rotate(maps, angle), -angle)
        expected = ((back - maps) * mask).norm() / (maps * mask).norm()
        assert harmonic.resampling_floor(maps, angle) == pytest.approx(expected.item(), rel=1e-6)
        assert harmonic.resampling_floor(maps, angle) > 0.05  # interpolation is not free
    assert harmonic.resampling_floor(maps, 90) < 1e-5 and harmonic.resampling_floor(maps, 180) < 1e-5


def test_confusion_pairs_equal_a_brute_force_count():
    gen = torch.Generator().manual_seed(0)
    labels, predicted = torch.randint(10, (500,), generator=gen), torch.randint(10, (500,), generator=gen)
    predicted[:200] = labels[:200]
    brute = Counter()
    for true, guess in zip(labels.tolist(), predicted.tolist()):
        if true != guess:
            brute[(true, guess)] += 1
    pairs = harmonic.confusion_pairs(labels, predicted)
    assert dict(pairs) == dict(brute)
    assert [n for _, n in pairs] == sorted(brute.values(), reverse=True)


@needs_weights
def test_shipped_confusions_and_error_shares_equal_a_brute_force_count():
    images, labels = harmonic.rotated_test_set(0)
    model = harmonic.load_model("hnet_upright")
    brute = Counter()
    with torch.no_grad():
        for i in range(0, len(labels), 300):
            for true, logits in zip(labels[i:i + 300].tolist(), model(images[i:i + 300])):
                if int(logits.argmax()) != true:
                    brute[(true, int(logits.argmax()))] += 1
    pairs, total = harmonic.rotated_test_confusions("hnet_upright", 0)
    assert dict(pairs) == dict(brute) and total == len(labels)
    errors = sum(brute.values())
    shares = harmonic._measure_error_pairs(0, False)
    assert shares["ours"] == pytest.approx(100 * (brute[(6, 9)] + brute[(9, 6)]) / errors)
    assert shares["as_6_or_9"] == pytest.approx(
        100 * sum(n for (a, b), n in brute.items() if b in (6, 9) and a not in (6, 9)) / errors)
    frame, note = demo.confusions(demo.REGIMES[0])
    assert frame.iloc[0, 2] == max(brute.values()) and str(errors) in note


@needs_weights
def test_shipped_turn_cycles_the_phase_picture_at_a_quarter_turn():
    """What the tab shows: the order-1 stream of the digit turned by 90° is the unturned one turned
    and times e^{iπ/2} (the tab's bilinear turn equals rot90 at quarter turns)."""
    digit = harmonic.digits("test")[0][3]
    out = harmonic.turn_and_look(digit, 90, 1)
    expected = _rot90(out["hnet_order1_unturned"]) * 1j
    assert torch.allclose(out["hnet_order1"], expected, atol=1e-4 * expected.abs().max().item())


@needs_weights
def test_equivariance_plot_floor_is_the_round_trip_of_the_hnet_maps():
    frame = demo.equivariance(1, demo.REGIMES[0])
    floor = frame[frame["network"] == demo.FLOOR].set_index("angle (°)")["relative error"]
    images = harmonic.digits("test")[0][:demo.EQUIVARIANCE_DIGITS]
    maps = harmonic.load_model("hnet_upright").feature_maps(images, 0)
    for angle in (40, 90):
        assert floor[angle] == pytest.approx(harmonic.resampling_floor(maps, angle), rel=1e-6, abs=1e-9)


def test_filters_handler():
    if not is_available_locally(harmonic.CHECKPOINTS["hnet_upright"]):
        pytest.skip("harmonic weights not shipped")
    picture = demo.filters(2, demo.REGIMES[0])
    assert picture.ndim == 3 and picture.shape[2] == 3
    with pytest.raises(gr.Error):
        demo.filters(9, demo.REGIMES[0])


@needs_weights
def test_floor_note_holds_for_the_shipped_hnets():
    """What the tab's note says: between quarter turns the H-Net's error is at or below the
    check's own floor in the first layers and above it at the last layer (after two poolings)."""
    images = harmonic.digits("test")[0][:demo.EQUIVARIANCE_DIGITS]
    last = len(harmonic.Config().widths) - 1
    for variant in ("hnet_upright", "hnet_rotated"):
        model = harmonic.load_model(variant)
        for angle in (20, 45, 70):
            for layer in (0, 1):
                measured = harmonic.equivariance_with_floor(model, images, angle, layer)
                assert measured["network"] <= measured["floor"], (variant, angle, layer)
            measured = harmonic.equivariance_with_floor(model, images, angle, last)
            assert measured["network"] > measured["floor"], (variant, angle)
