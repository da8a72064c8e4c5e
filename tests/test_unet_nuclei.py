"""U-Net on real nuclei: the paper's initialisation and dropout, the SEG score, a normalisation
robust to saturated blobs and empty background, the fixed U2OS split, and the public
`segment_nuclei` with the shipped nuclei model (8/16-bit, grey or RGB, any nucleus size)."""
import math

import cv2
import numpy as np
import pytest
import torch

from papers import unet

HAVE_U2OS = (unet.U2OS_DIR / "image").is_dir()


def test_paper_initialisation_draws_from_n0_sqrt_2_over_n():
    model = unet.paper_init_(unet.UNet(base_channels=8))
    conv = model.down[2][2]  # 3×3 over 32 channels: N = 9·32
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 32)), rel=0.05)
    assert abs(conv.weight.mean().item()) < 0.01 and conv.bias.abs().max().item() == 0
    up = model.up[0].up  # 2×2 up-convolution of stride 2: one tap per input channel, N = 128
    assert up.weight.std().item() == pytest.approx(math.sqrt(2 / 128), rel=0.05)


def test_dropout_at_the_end_of_the_contracting_path_only_while_training():
    model = unet.build_nuclei_model(0)
    assert isinstance(model.dropout, torch.nn.Dropout) and model.dropout.p == unet.NUCLEI_DROPOUT
    assert model.state_dict().keys() == unet.build_model().state_dict().keys()  # no parameters added
    x = torch.randn(1, 1, unet.input_size_for(20), unet.input_size_for(20))
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(x), model(x))
        model.eval()
        assert torch.equal(model(x), model(x))


def test_seg_score_counts_a_match_only_above_half_of_the_reference():
    truth = np.zeros((20, 40), np.int32)
    truth[:, :10], truth[:, 20:30] = 1, 2  # two objects of 200 px
    predicted = np.zeros_like(truth)
    predicted[:, :12] = 5  # covers all of object 1 and 40 px of background: IoU 200/240
    predicted[:10, 20:30] = 7  # exactly half of object 2: not a match (needs more than half)
    assert unet.seg_score(predicted, truth) == pytest.approx((200 / 240 + 0) / 2)
    assert unet.seg_score(truth, truth) == 1.0 and unet.seg_score(np.zeros_like(truth), truth) == 0.0
    merged = (truth > 0).astype(np.int32)  # one object over both: covers each fully, IoU 0.5 each
    assert unet.seg_score(merged, truth) == pytest.approx(0.5)


def test_normalisation_ignores_saturated_blobs_and_keeps_an_empty_background_dark():
    rng = np.random.default_rng(0)
    image = rng.normal(0.1, 0.01, (200, 200)).astype(np.float32)
    image[50:80, 50:80] = 0.4  # a nucleus (2 % of the pixels)
    image[10:12, 10:12] = 1.0  # a tiny saturated blob
    normalised = unet.normalise(image)
    assert normalised[60, 60] == pytest.approx(1.0, abs=0.05)  # the nucleus, not the blob, sets the scale
    assert abs(np.median(normalised)) < 0.1
    assert unet.normalise(np.full((10, 10), 7.0)).max() == 0  # a flat image stays finite and flat


def _discs(side: int, diameter: float, n: int, seed: int):
    """Bright discs, some nearly touching (2 px apart), on a dark noisy background, and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((side, side), np.int32)
    centres = []
    while len(centres) < n:
        centre = rng.uniform(diameter, side - diameter, 2)
        if all(np.hypot(*(centre - c)) >= diameter + 2 for c in centres):
            centres.append(centre)
    for index, (cy, cx) in enumerate(centres, start=1):
        disc = np.zeros_like(labels, np.uint8)
        cv2.circle(disc, (int(cx), int(cy)), int(diameter / 2), 1, -1)
        labels[(disc > 0) & (labels == 0)] = index
    image = np.where(labels > 0, 0.6, 0.05) + rng.normal(0, 0.02, labels.shape)
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), diameter / 20), labels


@pytest.mark.parametrize("dtype, scale, rgb", [(np.uint8, 255, False), (np.uint16, 4000, False), (np.uint8, 255, True)])
def test_segment_nuclei_returns_integer_labels_of_the_input_size(dtype, scale, rgb):
    image, labels = _discs(180, 26, 12, seed=1)
    array = np.clip(image * scale, 0, np.iinfo(dtype).max).astype(dtype)  # 16-bit: a dim 12-bit-like signal
    if rgb:
        array = np.repeat(array[..., None], 3, axis=2)
    found = unet.segment_nuclei(array)
    assert found.shape == labels.shape and np.issubdtype(found.dtype, np.integer) and found.min() == 0
    assert unet.instance_scores(found, labels)["f1"] >= 0.8


def test_segment_nuclei_estimates_the_nucleus_size():
    small, small_labels = _discs(200, 24, 10, seed=2)
    big = cv2.resize(small, (800, 800), interpolation=cv2.INTER_LINEAR)  # the same nuclei, 4× larger
    big_labels = cv2.resize(small_labels, (800, 800), interpolation=cv2.INTER_NEAREST)
    found = unet.segment_nuclei_full(big)
    assert 2.5 < found.factor < 6
    assert unet.instance_scores(found.instances, big_labels)["f1"] >= 0.8


def test_segment_nuclei_on_an_empty_image_finds_little():
    noise = np.random.default_rng(0).normal(100, 3, (128, 128)).clip(0, 255).astype(np.uint8)
    assert unet.segment_nuclei(noise).max() <= 3
    assert unet.segment_nuclei(np.zeros((64, 64), np.uint16)).max() == 0


@pytest.mark.skipif(not HAVE_U2OS, reason="../shared/data/coelho_u2os is not here")
def test_u2os_split_is_fixed_and_disjoint_and_the_images_load_reduced():
    split = unet.u2os_split()
    assert {k: len(v) for k, v in split.items()} == unet.SPLIT_SIZES
    assert len(set().union(*split.values())) == 48 and split == unet.u2os_split()
    grey, labels = unet.u2os_image(split["test"][0])
    assert grey.shape == labels.shape == (1030 // unet.U2OS_SCALE, 1349 // unet.U2OS_SCALE)
    assert labels.max() >= 10 and grey[labels > 0].mean() > 3 * grey[labels == 0].mean()  # bright nuclei


def test_shipped_post_processing_is_one_of_the_validation_grid_choices():
    _, post = unet.nuclei_pretrained("cpu")
    assert min(abs(post["threshold"] - t) for t in unet.THRESHOLDS) < 1e-6  # stored as float32
    assert post["min_area"] in unet.MIN_AREAS
    assert post["min_distance"] in unet.MIN_DISTANCES
    assert post["baseline_min_distance"] in unet.BASELINE_MIN_DISTANCES and post["baseline_min_area"] in unet.BASELINE_MIN_AREAS


def test_split_instances_cuts_two_overlapping_discs_only_with_a_watershed():
    yy, xx = np.mgrid[:60, :100]
    probability = (((yy - 30) ** 2 + (xx - 35) ** 2 < 18 ** 2) | ((yy - 30) ** 2 + (xx - 65) ** 2 < 18 ** 2)).astype(float)
    assert unet.split_instances(probability, 0.5, 10, 0).max() == 1  # connected components: one blob
    assert unet.split_instances(probability, 0.5, 10, 12).max() == 2  # the distance-transform watershed cuts it
    assert unet.split_instances(probability, 0.5, 5000, 12).max() == 0  # both below the minimum size


def test_touching_pairs_and_separated_pairs_count_merges_and_misses():
    truth = np.zeros((10, 30), np.int32)
    truth[:, :5], truth[:, 5:10], truth[:, 20:25] = 1, 2, 3  # 1 and 2 touch, 3 stands alone
    assert unet.touching_pairs(truth) == {(1, 2)}
    assert unet.separated_pairs(truth, truth) == (1, 1)
    assert unet.separated_pairs((truth > 0).astype(np.int32), truth) == (0, 1)  # merged: not separated
    missed = np.where(truth == 2, 0, truth)
    assert unet.separated_pairs(missed, truth) == (0, 1)  # one of the pair not found: not separated
    assert unet.separated_pairs(truth, np.where(truth == 2, 0, truth)) == (0, 0)  # no touching pair


def test_averaged_probability_over_the_eight_views_is_rotation_and_flip_invariant():
    torch.manual_seed(0)
    model = unet.paper_init_(unet.UNet(base_channels=4, depth=2)).eval()
    side = unet.output_size(unet.input_size_for(44, 2), 2)  # one tile, symmetric mirrored border
    grey = cv2.GaussianBlur(np.random.default_rng(0).random((side, side)).astype(np.float32), (0, 0), 2)
    plain = unet.averaged_probability([model], grey)
    assert np.allclose(plain, unet.nuclei_probability(model, grey))
    assert not np.allclose(np.rot90(plain), unet.averaged_probability([model], np.rot90(grey).copy()), atol=1e-4)
    views = unet.averaged_probability([model], grey, dihedral=True)
    assert views.shape == grey.shape
    assert np.allclose(np.rot90(views), unet.averaged_probability([model], np.rot90(grey).copy(), dihedral=True), atol=1e-5)
    assert np.allclose(views[:, ::-1], unet.averaged_probability([model], grey[:, ::-1].copy(), dihedral=True), atol=1e-5)
    assert np.allclose(unet.averaged_probability([model, model], grey, dihedral=True), views, atol=1e-6)


def test_the_no_weight_map_model_loads_with_its_own_validation_choices_and_segments():
    plain, post = unet.nuclei_pretrained("cpu", weight_map=False)
    shipped, _ = unet.nuclei_pretrained("cpu")
    assert plain is not shipped and post["min_distance"] in unet.MIN_DISTANCES and post["min_area"] in unet.MIN_AREAS
    assert not torch.equal(plain.head.weight, shipped.head.weight)
    image, labels = _discs(180, 26, 12, seed=1)
    found = unet.segment_nuclei_full(image, weight_map=False, with_baseline=False)
    assert found.instances.shape == labels.shape and unet.instance_scores(found.instances, labels)["f1"] >= 0.8


def test_core_instances_cut_where_the_probability_dips_between_two_cores():
    yy, xx = np.mgrid[:60, :100]
    left, right = (yy - 30) ** 2 + (xx - 35) ** 2 < 18 ** 2, (yy - 30) ** 2 + (xx - 65) ** 2 < 18 ** 2
    probability = np.where(left | right, 0.95, 0.05)
    probability[:, 49:51] = np.where(left | right, 0.6, 0.05)[:, 49:51]  # a learnt gap: above the mask, below the cores
    found = unet.core_instances(probability, 0.5, 0.9, 0, 10)
    assert found.max() == 2 and unet.core_instances(np.where(left | right, 0.95, 0.05), 0.5, 0.9, 0, 10).max() == 1
    assert unet.instance_scores(found, np.where(left, 1, np.where(right, 2, 0)))["f1"] == 1.0
    assert unet.core_instances(probability, 0.5, 0.9, 0, 5000).max() == 0
    assert set(unet.ENSEMBLE_POST) == {"threshold", "core", "core_area", "min_area"}
    assert unet.ENSEMBLE_POST["threshold"] in unet.CORE_THRESHOLDS and unet.ENSEMBLE_POST["core"] in unet.CORES
