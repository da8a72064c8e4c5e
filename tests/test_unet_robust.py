"""U-Net nuclei under other microscopes: the declared perturbations do what their names say, the
wider fine-tuning augmentation, and the size rule that enlarges only nuclei smaller than any
seen in training."""
import cv2
import numpy as np
import pytest

from papers import unet


def _nuclei(side: int = 120, diameter: int = 26, seed: int = 0):
    """Bright discs on a dim background in [0, 1], and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((side, side), np.int32)
    for index, (cy, cx) in enumerate([(30, 30), (30, 85), (85, 30), (85, 85)], start=1):
        cv2.circle(labels, (cx, cy), diameter // 2, index, -1)
    grey = np.where(labels > 0, 0.6, 0.05) + rng.normal(0, 0.01, labels.shape)
    return grey.astype(np.float32), labels


def test_every_declared_perturbation_is_named_and_seeded():
    grey, labels = _nuclei()
    assert set(unet.PERTURBATION_NAMES) == set(unet.PERTURBATIONS)
    assert set(unet.RANDOM_PERTURBATIONS) < set(unet.PERTURBATIONS)
    for kind in unet.PERTURBATIONS:
        one = unet.perturb(grey, labels, kind, np.random.default_rng(1))
        again = unet.perturb(grey, labels, kind, np.random.default_rng(1))
        others = [unet.perturb(grey, labels, kind, np.random.default_rng(seed))[0] for seed in range(2, 6)]
        assert np.array_equal(one[0], again[0]) and one[0].shape == one[1].shape
        assert all(np.array_equal(one[0], o) for o in others) == (kind not in unet.RANDOM_PERTURBATIONS)
    with pytest.raises(ValueError):
        unet.perturb(grey, labels, "sepia", np.random.default_rng(0))


def test_perturbations_store_and_scale_as_declared():
    grey, labels = _nuclei()
    rng = np.random.default_rng(0)
    dim, same = unet.perturb(grey, labels, "dim_16bit", rng)
    assert dim.dtype == np.uint16 and same is labels
    assert dim.min() >= unet.CAMERA_OFFSET and dim[labels > 0].mean() == pytest.approx(
        unet.CAMERA_OFFSET + 0.6 * unet.DIM_GAIN * unet.CAMERA_LEVELS, rel=0.02)
    for kind, factor in unet.ZOOM.items():
        image, zoomed = unet.perturb(grey, labels, kind, rng)
        assert image.shape == (round(120 * factor),) * 2 and zoomed.max() == 4
    saturated, _ = unet.perturb(grey, labels, "saturated", rng)
    bright = [saturated[labels == i].mean() for i in range(1, 5)]
    assert saturated.dtype == np.uint8 and saturated.max() == 255
    assert sum(b > 200 for b in bright) == unet.SATURATED_NUCLEI and min(bright) < 255 / unet.SATURATION_GAIN + 2
    ramp, _ = unet.perturb(grey, labels, "uneven", rng)
    assert (ramp - grey).min() == pytest.approx(0, abs=1e-6)
    assert (ramp - grey).max() == pytest.approx(unet.RAMP * np.percentile(grey, unet.NORM_PERCENTILES[1]), rel=1e-4)
    blurred, _ = unet.perturb(grey, labels, "defocus", rng)
    assert blurred.std() < grey.std() and blurred.mean() == pytest.approx(grey.mean(), rel=0.01)


def test_brighten_nuclei_makes_a_few_nuclei_the_brightest_and_rescales():
    grey, labels = _nuclei()
    out = unet.brighten_nuclei(grey, labels, np.random.default_rng(3))
    means = np.array([out[labels == i].mean() for i in range(1, 5)])
    assert out.max() == pytest.approx(1.0) and (means > 0.55).sum() >= 1
    assert np.allclose(out[labels == 0] / grey[labels == 0], out[labels == 0][0] / grey[labels == 0][0], rtol=1e-4)
    assert np.array_equal(unet.brighten_nuclei(grey, np.zeros_like(labels), np.random.default_rng(0)), grey)


def test_wide_augmentation_reaches_stronger_blur_and_fewer_photons_than_the_first_training():
    assert unet.WIDE_BLUR > unet.NARROW_BLUR and unet.WIDE_PHOTONS < unet.NARROW_PHOTONS
    grey, labels = _nuclei()
    rng = np.random.default_rng(0)
    image, target = unet.nuclei_sample(grey, labels, rng, depth=4, tile=60, wide=True)
    assert image.shape == (unet.input_size_for(60),) * 2 and target.shape == (60, 60)


def test_nuclei_smaller_than_any_seen_in_training_are_enlarged_others_never():
    grey, _ = _nuclei(240, 26)
    training = unet.nucleus_diameter(grey)
    assert unet.scale_factor(grey, training) == pytest.approx(1.0)
    assert unet.scale_factor(grey, training / 0.8) == 1.0  # 0.8× the training size: within the scale augmentation
    assert unet.scale_factor(grey, training / 0.4) == unet.MIN_FACTOR  # far smaller: enlarged, at most 2×
    assert unet.scale_factor(grey, training / 0.55) == pytest.approx(0.55, rel=1e-3)


def test_the_tab_says_yes_only_where_the_stored_gap_over_the_re_tuned_baseline_is_at_least_0_10():
    from demos import unet as tab
    from papers.results import value

    ids = [f"perturbed_{kind}_f1" for kind in unet.PERTURBATIONS]
    if any(value(tab.SLUG, cid) is None for cid in ids):
        pytest.skip("perturbed_*_f1 not in results/unet.json")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in tab._robustness().splitlines() if line.startswith("| ")}
    for kind, cid in zip(unet.PERTURBATIONS, ids):
        gap = value(tab.SLUG, cid) - value(tab.SLUG, cid, "otsu_watershed_retuned")
        row = rows[tab._PERTURBATIONS_EN[kind]]
        assert row.endswith("| yes |") == (gap >= 0.1), row
        assert row.endswith("| no (behind) |") == (gap < -tab.LEVEL), row
