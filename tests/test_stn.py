"""Spatial Transformer Networks: parity of the grid generator and sampler with torch's, their
gradients, the TPS and projective maps, the benchmark's geometry, the shipped models, the tab."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from papers import stn
from papers.checkpoints import is_available_locally

torch.set_num_threads(1)


def _random_grid(n, h, w, gen):
    return (torch.rand(n, h, w, 2, generator=gen, dtype=torch.float64) * 2.4 - 1.2)  # some outside


def test_affine_grid_equals_torch():
    theta = torch.randn(3, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for size in [(3, 1, 7, 9), (3, 2, 1, 5), (3, 1, 28, 28)]:
        ours, ref = stn.affine_grid(theta, size), F.affine_grid(theta, size, align_corners=False)
        assert torch.allclose(ours, ref, atol=1e-12)


def test_affine_grid_gradient():
    theta = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: stn.affine_grid(t, (2, 1, 4, 5)), (theta,))
    weights = torch.randn(2, 4, 5, 2, dtype=torch.float64)
    ours, = torch.autograd.grad((stn.affine_grid(theta, (2, 1, 4, 5)) * weights).sum(), theta)
    ref, = torch.autograd.grad((F.affine_grid(theta, (2, 1, 4, 5), align_corners=False) * weights).sum(), theta)
    assert torch.allclose(ours, ref, atol=1e-12)


def test_bilinear_sample_equals_grid_sample_in_value_and_gradient():
    gen = torch.Generator().manual_seed(1)
    image = torch.randn(2, 3, 6, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    grid = _random_grid(2, 5, 4, gen).requires_grad_()
    ours = stn.bilinear_sample(image, grid)
    ref = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    assert torch.allclose(ours, ref, atol=1e-12)
    upstream = torch.randn_like(ours)
    ours_grads = torch.autograd.grad(ours, (image, grid), upstream)
    ref_grads = torch.autograd.grad(ref, (image, grid), upstream)
    for a, b in zip(ours_grads, ref_grads):
        assert torch.allclose(a, b, atol=1e-10)


def test_bilinear_sample_gradcheck():
    gen = torch.Generator().manual_seed(2)
    image = torch.randn(1, 2, 5, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    grid = _random_grid(1, 3, 3, gen).requires_grad_()
    assert torch.autograd.gradcheck(stn.bilinear_sample, (image, grid))


def test_tps_identity_and_interpolation():
    control = stn.tps_control_points(4, dtype=torch.float64)[None]  # (1, 16, 2)
    size = (1, 1, 9, 11)
    assert torch.allclose(stn.tps_grid(control, size), F.affine_grid(
        torch.eye(2, 3, dtype=torch.float64)[None], size, align_corners=False), atol=1e-9)
    moved = control + 0.1 * torch.randn(1, 16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(stn.tps_transform(control[0], moved), moved, atol=1e-9)  # passes through


def test_tps_reproduces_affine_maps_exactly():
    """A thin-plate spline whose control points were moved by an affine map A is A itself (its
    bending weights vanish): the TPS grid equals the affine grid of A (and torch's)."""
    gen = torch.Generator().manual_seed(4)
    control = stn.tps_control_points(4, dtype=torch.float64)  # (16, 2)
    size = (3, 1, 7, 10)
    theta = torch.eye(2, 3, dtype=torch.float64) + 0.3 * torch.randn(3, 2, 3, dtype=torch.float64, generator=gen)
    moved = control @ theta[:, :, :2].transpose(1, 2) + theta[:, None, :, 2]  # (3, 16, 2)
    assert torch.allclose(stn.tps_grid(moved, size), stn.affine_grid(theta, size), atol=1e-9)
    assert torch.allclose(stn.tps_grid(moved, size), F.affine_grid(theta, size, align_corners=False), atol=1e-9)
    bent = moved + 0.05 * torch.randn(3, 16, 2, dtype=torch.float64, generator=gen)  # not affine: differs
    assert not torch.allclose(stn.tps_grid(bent, size), stn.affine_grid(theta, size), atol=1e-3)


def test_tps_transformer_starts_at_the_identity_and_is_differentiable():
    model = stn.STCNN(kind="tps")
    canvas = torch.rand(2, 1, stn.CANVAS, stn.CANVAS)
    rectified, theta, grid = model.transformer(canvas)
    assert torch.allclose(theta, stn.tps_control_points(stn.TPS_GRID).expand(2, -1, -1))
    assert torch.allclose(grid, stn.affine_grid(torch.eye(2, 3).expand(2, -1, -1), rectified.shape), atol=1e-5)
    model(canvas).sum().backward()  # the classification loss reaches the localisation net
    assert model.transformer.loc.regress[-1].weight.grad.abs().sum() > 0


def test_elastic_compose_is_e_and_its_exact_grid_inverts_the_warp():
    """The tab's elastic slider draws E's warp; the orange grid pulls the output back through it."""
    digit = stn.digits("test")[0][3]
    assert torch.equal(stn.compose(digit, 20, 0.9, 2, -1, 0), stn.compose(digit, 20, 0.9, 2, -1, 0, elastic=0.0))
    warped = stn.compose(digit, 0, 1.0, 0, 0, 0, seed=5, elastic=stn.ELASTIC_SIGMA)
    reference = stn.distort(digit[None], "E", torch.Generator().manual_seed(5)).clamp(0, 1)
    assert torch.allclose(warped, reference, atol=1e-5)
    for placement, elastic in [((0, 1.0, 0, 0), 0.1), ((30, 0.8, 4, -2), 0.12)]:
        grid = stn.exact_grid_px(*placement, elastic=elastic, seed=9)  # canvas pixels
        normalised = ((grid * 2 + 1) / stn.CANVAS - 1).reshape(1, -1, 2)
        digit_coords = normalised @ stn.placement_theta([placement[0]], [placement[1]], [placement[2:]])[0, :, :2].T \
            + stn.placement_theta([placement[0]], [placement[1]], [placement[2:]])[0, :, 2]
        control = stn.elastic_control_points(1, elastic, torch.Generator().manual_seed(9))
        assert torch.allclose(stn.tps_transform(digit_coords, control), stn.base_grid(28, 28).float()[None], atol=1e-4)
        canvas = stn.compose(digit, *placement, clutter=0, seed=9, elastic=elastic)
        recovered = stn.bilinear_sample(canvas, ((grid * 2 + 1) / stn.CANVAS - 1)[None].float())[0]
        assert torch.corrcoef(torch.stack([recovered.flatten(), digit.flatten()]))[0, 1] > 0.9


def test_homography_maps_the_corners():
    gen = torch.Generator().manual_seed(4)
    src = torch.tensor([[-1.0, -1], [1, -1], [1, 1], [-1, 1]], dtype=torch.float64).expand(3, -1, -1)
    dst = src + 0.2 * torch.randn(3, 4, 2, dtype=torch.float64, generator=gen)
    h = stn.homography_from_corners(src, dst)
    assert torch.allclose(stn.projective_transform(src, h), dst, atol=1e-9)


def test_rectifying_theta_undoes_compose_exactly_on_the_pixel_lattice():
    digit = stn.digits("test")[0][5]
    canvas = stn.compose(digit, 90, 1.0, 6, -4, clutter=0)
    theta = stn.rectifying_theta(90, 1.0, 6, -4)[None]
    recovered = stn.bilinear_sample(canvas, stn.affine_grid(theta, (1, 1, 28, 28)))
    assert torch.allclose(recovered[0], digit, atol=1e-5)
    pose = stn.theta_pose(theta[0])
    assert pose["angle"] == pytest.approx(90, abs=1e-3) and pose["shift_x"] == pytest.approx(6, abs=1e-4)


@pytest.mark.parametrize("kind", stn.DISTORTIONS)
def test_distortions_keep_the_digit_on_the_canvas(kind):
    images = stn.digits("test")[0][:8]
    out = stn.distort(images, kind, torch.Generator().manual_seed(0))
    assert out.shape == (8, 1, stn.CANVAS, stn.CANVAS)
    ink = out.sum((1, 2, 3))
    assert (ink > 0.4 * images.sum((1, 2, 3))).all()  # ink ~ scale² (RTS: >= 0.7²); none fell off
    again = stn.distort(images, kind, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_unknown_distortion():
    with pytest.raises(ValueError):
        stn.distortion_grid("shear", 1, torch.Generator())


def test_measure_live_interval_is_the_binomial_one(monkeypatch):
    """The measure button's ± is 1.96·sqrt(p(1-p)/N): checked with stand-in models that always say 0."""
    class AlwaysZero(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(len(x), 10).index_fill_(1, torch.tensor([0]), 1.0)

    monkeypatch.setattr(stn, "load_model", lambda name: AlwaysZero())
    n = 60
    for kind, row in stn.measure_live(n, seed=2):
        gen = torch.Generator().manual_seed(2 * 100 + stn.MODEL_DISTORTIONS.index(kind))
        labels = stn.digits("test")[1][torch.randperm(len(stn.digits("test")[1]), generator=gen)[:n]]
        p = (labels != 0).double().mean().item()
        for arch in ("st_cnn", "cnn"):
            assert row[arch][0] == pytest.approx(100 * p)
            assert row[arch][1] == pytest.approx(100 * 1.96 * math.sqrt(p * (1 - p) / n))


def test_equal_parameter_budgets_and_identity_start():
    st_cnn = stn.STCNN()
    n_st, n_cnn = (sum(p.numel() for p in m.parameters()) for m in (st_cnn, stn.plain_cnn()))
    assert abs(n_st - n_cnn) / n_st < 0.02
    theta = st_cnn.transformer.theta(torch.rand(2, 1, stn.CANVAS, stn.CANVAS))
    assert torch.allclose(theta, torch.eye(2, 3).expand(2, -1, -1))
    n_tps = sum(p.numel() for p in stn.STCNN(kind="tps").parameters())
    assert abs(n_tps - n_cnn) / n_tps < 0.02


needs_weights = pytest.mark.skipif(
    not all(is_available_locally(c) for c in stn.CHECKPOINTS.values()), reason="stn weights not shipped")


def test_train_seeds_before_building_the_model():
    """`train stn:X` equals X in the full run: `trained` seeds, then builds."""
    torch.manual_seed(123)
    a = stn.trained("st_cnn_r", seed=0, steps=1)
    torch.rand(1000)  # whatever ran before must not matter
    b = stn.trained("st_cnn_r", seed=0, steps=1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@needs_weights
@pytest.mark.parametrize("kind", stn.MODEL_DISTORTIONS)
def test_shipped_models_reproduce_their_results(kind):
    """Each distortion's row of the tab's table, re-measured from its shipped checkpoints (fixed test set)."""
    from papers import results

    stored = results.claim("stn", stn.SHIPPED_CLAIM_IDS[kind])
    for arch in stn.KIND_ARCHITECTURES[kind]:
        method = "ours" if arch == stn.PRIMARY[kind] else arch
        measured = stn.evaluate(stn.load_model(stn.model_name(arch, kind)), kinds=(kind,))[kind]
        stats = stored["ours"] if method == "ours" else stored["baselines"][method]
        assert measured == pytest.approx(stats["per_seed"][0], abs=0.3)


@needs_weights
def test_rts_st_cnn_theta_follows_shift_and_scale():
    """The paper's claim (§4.1): the transformer finds the digit and normalises its pose. The RTS
    model does it for translation and scale (slope of θ's reading against the truth near 1); its
    rotation slope is small (measured in results/, see the module docstring)."""
    digit = stn.digits("test")[0][0]
    shifts = list(range(-6, 7, 2))
    read = [p["shift_x"] for p in stn.theta_sweep(digit, [(0, 1.0, s, 0) for s in shifts], "RTS")]
    assert np.polyfit(shifts, read, 1)[0] == pytest.approx(1, abs=0.3)
    scales = [0.7, 0.85, 1.0, 1.15]
    read = [p["scale"] for p in stn.theta_sweep(digit, [(0, s, 0, 0) for s in scales], "RTS")]
    assert np.polyfit(scales, read, 1)[0] > 0.5


@needs_weights
def test_the_rotation_slope_claim_is_what_the_r_model_does():
    """theta_angle_slope, re-measured on its first seed, equals a slope fitted here by hand."""
    from papers import results

    quantity, values, position, kind = stn.POSE_SWEEPS["theta_angle_slope"]
    assert (quantity, kind, values[0], values[-1]) == ("angle", "R", -60, 60)
    images = stn.digits("test")[0]
    picks = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:stn.SWEEP_DIGITS]
    truth, read = [], []
    for i in picks.tolist():
        read += [p["angle"] for p in stn.theta_sweep(images[i], [(a, 1.0, 0, 0) for a in values], "R")]
        truth += values
    slope = np.polyfit(truth, read, 1)[0]
    assert slope == pytest.approx(stn.theta_slope("theta_angle_slope", 0), abs=1e-6)
    assert slope == pytest.approx(results.claim("stn", "theta_angle_slope")["ours"]["per_seed"][0], abs=0.02)


@needs_weights
def test_the_r_st_cnn_turns_the_digit_upright():
    """§4.1, Fig. 3: the R model's θ turns with the digit (measured slope over ±60° well above the
    tab's 0.5 threshold for "turns its grid") and its 28x28 glimpse of a turned digit looks more like
    the upright digit than like the turned one."""
    from papers import results

    assert results.value("stn", "theta_angle_slope") > 0.7
    digit = stn.digits("test")[0][7]
    upright = stn.analyse(stn.compose(digit, 0, 1.0, 0, 0, clutter=0), "R")["rectified"].flatten()
    for angle in (-50, 50):
        out = stn.analyse(stn.compose(digit, angle, 1.0, 0, 0, clutter=0), "R")
        assert stn.theta_pose(out["theta"])["angle"] == pytest.approx(angle, abs=20)
        turned = stn.bilinear_sample(upright.reshape(1, 1, 28, 28), stn.affine_grid(
            stn.placement_theta([angle], [1.0], [[0, 0]], canvas=28), (1, 1, 28, 28))).flatten()
        glimpse = out["rectified"].flatten()
        assert torch.corrcoef(torch.stack([glimpse, upright]))[0, 1] > torch.corrcoef(torch.stack([glimpse, turned]))[0, 1]


@needs_weights
def test_the_rts_st_cnn_turns_the_digit_upright_too():
    """The warm-started RTS model de-rotates as well (its stored slope over ±45° is its re-measured
    one) while still finding a moved, scaled digit: θ reads the angle back within 20°."""
    from papers import results

    assert results.value("stn", "theta_angle_slope_rts") > 0.7
    assert stn.theta_slope("theta_angle_slope_rts", 0) == pytest.approx(
        results.claim("stn", "theta_angle_slope_rts")["ours"]["per_seed"][0], abs=0.02)
    digit = stn.digits("test")[0][7]
    for angle, scale, sx, sy in [(-40, 0.8, 5, -4), (40, 1.1, -5, 3)]:
        theta = stn.analyse(stn.compose(digit, angle, scale, sx, sy, clutter=0), "RTS")["theta"]
        assert stn.theta_pose(theta)["angle"] == pytest.approx(angle, abs=20)


def test_exact_grid_is_the_inverse_of_the_placement():
    """The tab's orange grid: sampling the composed canvas on it gives back the upright digit."""
    digit = stn.digits("test")[0][3]
    for placement in [(0, 1.0, 0, 0), (-90, 1.0, 5, -3), (-60, 0.8, 5, -3), (120, 1.2, -4, 6)]:
        canvas = stn.compose(digit, *placement, clutter=0)
        grid = stn.exact_grid_px(*placement)  # (28, 28, 2) canvas pixels
        normalised = (grid * 2 + 1) / stn.CANVAS - 1
        recovered = stn.bilinear_sample(canvas, normalised[None].float())[0]
        if placement[0] % 90 == 0 and placement[1] == 1.0:  # on the pixel lattice: exact
            assert torch.allclose(recovered, digit, atol=1e-5)
        else:  # resampled twice: the same digit up to interpolation blur
            assert torch.corrcoef(torch.stack([recovered.flatten(), digit.flatten()]))[0, 1] > 0.9


def test_theta_pose_reads_the_rectifier_angle_and_ignores_shear():
    """θ maps output to canvas coordinates, so the exact rectifier of a digit turned by +a reads +a
    (any scale and shift); a stretch (symmetric 2x2 part, even off-axis) reads as no turn, with its
    anisotropy reported, where reading row 0 alone would see a turn."""
    for angle, scale, sx, sy in [(-60, 1.0, 0, 0), (25, 0.8, 5, -3), (60, 1.2, -4, 6), (89, 1.0, 0, 0)]:
        pose = stn.theta_pose(stn.rectifying_theta(angle, scale, sx, sy))
        assert pose["angle"] == pytest.approx(angle, abs=1e-3)
        assert pose["scale"] == pytest.approx(scale, abs=1e-4) and pose["anisotropy"] == pytest.approx(1, abs=1e-4)
    stretched = torch.tensor([[0.9, 0.2, 0.0], [0.2, 0.3, 0.0]])
    assert stn.theta_pose(stretched)["angle"] == pytest.approx(0, abs=1e-9)
    assert math.degrees(math.atan2(0.2, 0.9)) > 10  # what reading row 0 alone would say
    assert stn.theta_pose(torch.tensor([[0.9, 0.0, 0.0], [0.0, 0.3, 0.0]]))["anisotropy"] == pytest.approx(3)


def test_rotation_curriculum_widens_from_upright_to_the_full_range():
    """R trains on upright digits first, the range growing linearly to ±90° over CURRICULUM of the
    steps; RTS (curriculum 0) and the test sets draw the full range from the start."""
    steps = stn.TRAIN_STEPS["R"]
    ramp = stn.CURRICULUM["R"] * steps
    assert stn.rotation_range(1, steps, stn.CURRICULUM["R"]) == 0
    assert stn.rotation_range(1 + int(ramp // 2), steps, stn.CURRICULUM["R"]) == pytest.approx(0.5, abs=0.01)
    assert stn.rotation_range(1 + int(ramp), steps, stn.CURRICULUM["R"]) == 1 == stn.rotation_range(steps, steps, 0.25)
    assert stn.rotation_range(1, stn.TRAIN_STEPS["RTS"], stn.CURRICULUM["RTS"]) == 1
    images = stn.digits("test")[0][:4]
    upright = stn.distort(images, "R", torch.Generator().manual_seed(0), rotation=0.0)
    assert torch.allclose(upright, torch.cat([stn.compose(d, 0, 1.0, 0, 0, clutter=0) for d in images]), atol=1e-5)
    default = stn.distort(images, "R", torch.Generator().manual_seed(0))
    assert torch.equal(default, stn.distort(images, "R", torch.Generator().manual_seed(0), rotation=1.0))
    assert not torch.allclose(default, upright, atol=1e-2)


def test_rts_models_start_from_the_seed_0_r_models():
    """WARM_START: an RTS model starts from the seed-0 R model of its architecture, trained for the
    same fraction of R's schedule (whatever the RTS seed); R and E models start fresh."""
    for arch in ("st_cnn", "cnn"):
        start = stn.starting_state(f"{arch}_rts", steps=1)
        r_model = stn.trained(f"{arch}_r", seed=0, steps=stn.TRAIN_STEPS["R"] // stn.TRAIN_STEPS["RTS"])
        assert all(torch.equal(start[k], v) for k, v in r_model.state_dict().items())
    assert stn.starting_state("st_cnn_r", 1) is None and stn.starting_state("st_tps_e", 1) is None


def test_staged_curriculum_holds_rts_at_rest_while_the_rotation_grows():
    """The staged recipe tried on validation (`placement_range`): centred, unscaled RTS digits first."""
    assert stn.placement_range(1, 100, 0.25, staged=True) == 0 == stn.placement_range(26, 100, 0.25, staged=True)
    assert stn.placement_range(51, 100, 0.25, staged=True) == 1 == stn.placement_range(1, 100, 0.25, staged=False)
    images = stn.digits("test")[0][:3]
    centred = stn.distort(images, "RTS", torch.Generator().manual_seed(0), rotation=0.0, placement=0.0)
    assert torch.allclose(centred, torch.cat([stn.compose(d, 0, 1.0, 0, 0, clutter=0) for d in images]), atol=1e-5)


def test_validation_digits_are_held_out_of_training():
    train_x, _ = stn.training_digits("train")
    val_x, _ = stn.training_digits("validation")
    assert len(val_x) == stn.VALIDATION_DIGITS and len(train_x) + len(val_x) == len(stn.digits("train")[1])
    flat_train = {tuple(x.flatten().tolist()) for x in train_x}
    assert not any(tuple(x.flatten().tolist()) in flat_train for x in val_x)


def test_models_are_one_per_distortion():
    assert set(stn.MODELS) == set(stn.CHECKPOINTS) == {"cnn_r", "st_cnn_r", "cnn_rts", "st_cnn_rts",
                                                       "cnn_e", "st_cnn_e", "st_tps_e"}
    assert {stn.MODELS[name][1] for name in stn.MODELS} == set(stn.MODEL_DISTORTIONS)
    assert stn.MODELS["st_tps_e"][0]().transformer.kind == "tps"
    with pytest.raises(ValueError):
        stn.analyse(torch.zeros(1, 1, stn.CANVAS, stn.CANVAS), "P")


# --------------------------------------------------------------------------- the tab's handlers
gr = pytest.importorskip("gradio")
demo = pytest.importorskip("demos.stn")


def _sketch(array):
    return {"background": None, "layers": [], "composite": array}


def _drawn_seven(dtype=np.uint8, channels=3):
    page = np.full((280, 280, channels), np.iinfo(dtype).max, dtype=dtype)
    page[60:80, 60:220] = 0  # the bar of a 7
    for i in range(140):
        page[80 + i, 200 - i // 2:216 - i // 2] = 0
    if channels == 4:
        page[..., 3] = np.iinfo(dtype).max
    return page


@needs_weights
def test_handler_defaults_and_extremes():
    overlay, rectified, st_probs, cnn_probs, pose = demo.bench_default()
    assert overlay.shape == (stn.CANVAS * demo.DISPLAY_ZOOM,) * 2 + (3,)
    assert sum(st_probs.values()) == pytest.approx(1, abs=1e-4) and "ST-CNN" in pose
    colours = {tuple(c) for c in overlay.reshape(-1, 3)}
    assert demo.LEARNED in colours and demo.EXACT in colours  # both grids drawn
    for model in ("R", "RTS", "junk"):
        for angle, scale, shift, clutter in [(-180, 0.5, -16, 12), (180, 1.5, 16, 0)]:
            out = demo.analyse(demo.SOURCES[0], 0, None, angle, scale, shift, shift, clutter, model)
            assert len(out[2]) == 10


@needs_weights
def test_the_model_choice_changes_the_models():
    args = (demo.SOURCES[0], 5, None, 40, 1.0, 0, 0, 0)
    assert demo.analyse(*args, "R")[4] != demo.analyse(*args, "RTS")[4]


@needs_weights
def test_the_e_model_shows_its_tps_grid_and_control_points():
    """E: the TPS ST-CNN's θ is 16 control points; the tab draws its warped grid (green) beside the
    exact inverse of the warp (orange) and reports how far the learned knots are from it."""
    canvas = stn.compose(stn.digits("test")[0][7], 0, 1.0, 0, 0, 0, seed=7, elastic=stn.ELASTIC_SIGMA)
    out = stn.analyse(canvas, "E")
    assert out["transformer"] == "tps" and out["theta"].shape == (stn.TPS_GRID ** 2, 2)
    assert out["grid_px"].shape == (28, 28, 2) and out["rectified"].shape == (28, 28)
    overlay, rectified, st_probs, cnn_probs, table = demo.analyse(
        demo.SOURCES[0], 7, None, 0, 1.0, 0, 0, 0, "E", stn.ELASTIC_SIGMA)
    colours = {tuple(c) for c in overlay.reshape(-1, 3)}
    assert demo.LEARNED in colours and demo.EXACT in colours
    assert "TPS θ" in table and "ST-CNN TPS" in table and sum(st_probs.values()) == pytest.approx(1, abs=1e-4)
    assert demo.preset("E") == (0, 1.0, 0, 0, stn.ELASTIC_SIGMA) and demo.preset("R")[-1] == 0.0
    assert demo.analyse(demo.SOURCES[0], 7, None, 0, 1.0, 0, 0, 0, "E", "junk")[4]  # a bad warp value: no warp


@needs_weights
def test_measure_button_reports_both_models_with_an_interval():
    frames = list(demo.measure(50, 3))
    assert len(frames) == len(stn.MODEL_DISTORTIONS)
    final = frames[-1]
    for kind in stn.MODEL_DISTORTIONS:
        assert f"| {kind} |" in final
    assert final.count("±") >= 2 * len(stn.MODEL_DISTORTIONS) + 1
    # the same draw twice gives the same table; the table is what measure_live computed
    assert list(demo.measure(50, 3))[-1] == final
    rows = dict(stn.measure_live(50, 3))
    assert f"{rows['R']['st_cnn'][0]:.1f} ± {rows['R']['st_cnn'][1]:.1f}" in final
    assert f"{rows['E']['st_tps'][0]:.1f} ± {rows['E']['st_tps'][1]:.1f}" in final and set(rows["E"]) == set(stn.KIND_ARCHITECTURES["E"])
    with pytest.raises(gr.Error):
        list(demo.measure("many", 0))


@needs_weights
@pytest.mark.parametrize("drawing", [_drawn_seven(), _drawn_seven(np.uint16), _drawn_seven(channels=4)])
def test_handler_reads_drawings(drawing):
    out = demo.analyse(demo.SOURCES[1], 0, _sketch(drawing), 0, 1.0, 0, 0, 0)
    assert len(out[2]) == 10


@pytest.mark.parametrize("sketch", [None, _sketch(np.full((280, 280, 3), 255, np.uint8)),
                                    _sketch(np.zeros((1, 1, 3), np.uint8))])
def test_handler_bad_drawings_give_messages(sketch):
    with pytest.raises(gr.Error):
        demo.analyse(demo.SOURCES[1], 0, sketch, 0, 1.0, 0, 0, 0)


def test_handler_bad_index():
    with pytest.raises(gr.Error):
        demo.analyse(demo.SOURCES[0], 10_000, None, 0, 1.0, 0, 0, 0)


@needs_weights
def test_sweep_and_table():
    for quantity, (values, _) in demo.SWEEPS.items():
        frame = demo.sweep(demo.SOURCES[0], 3, None, quantity, 10, 1.0, 0, 0, "R")
        assert len(frame) == 2 * len(values)
    with pytest.raises(gr.Error):
        demo.sweep(demo.SOURCES[0], 3, None, "shear", 10, 1.0, 0, 0)
    table = demo.error_table()
    assert "ST-CNN Aff" in table and "ST-CNN TPS" in table and "| E |" in table and "not measured" not in table


def test_drawing_switches_the_source():
    blank = _sketch(np.full((50, 50, 3), 255, np.uint8))
    assert demo.source_after_drawing(blank, demo.SOURCES[0]) == demo.SOURCES[0]
    assert demo.source_after_drawing(None, demo.SOURCES[0]) == demo.SOURCES[0]
    assert demo.source_after_drawing(_sketch(_drawn_seven()), demo.SOURCES[0]) == demo.SOURCES[1]
