"""U-Net: the paper's sizes, seamless overlap-tiling, Eq. 2 against a hand-computed case,
elastic deformation, and the tab's handlers (bad inputs included)."""
import math

import gradio as gr
import numpy as np
import pytest
import torch

from papers import unet


def test_paper_sizes_572_in_388_out_and_31m_parameters():
    with torch.device("meta"):
        model = unet.UNet()  # the paper's width
        out = model(torch.zeros(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)
    assert sum(p.numel() for p in model.parameters()) == 31_030_658
    assert unet.output_size(572) == 388 and unet.input_size_for(388) == 572 and unet.border() == 92
    assert unet.output_size(571) is None  # an odd size would meet a 2×2 pooling


def test_small_model_output_size_matches_the_formula():
    model = unet.UNet(base_channels=2).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 1, 252, 252)).shape[-1] == unet.output_size(252) == 68


def test_overlap_tiles_equal_the_whole_image_prediction():
    torch.manual_seed(0)
    model = unet.UNet(base_channels=2, depth=2).eval()
    image = np.random.default_rng(0).normal(size=(61, 50)).astype(np.float32)
    tiled = unet.predict_logits(model, image, tile_output=12)  # many small overlapping tiles
    whole = unet.predict_logits(model, image, tile_output=64)  # one tile covers everything
    _, corners = unet.tile_grid(61, 50, 12, 2)
    assert len(corners) > 4 and len(unet.tile_grid(61, 50, 64, 2)[1]) == 1
    assert tiled.shape == whole.shape == (2, 61, 50)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_weight_map_matches_a_hand_computed_gap():
    instances = np.zeros((20, 24), np.int32)
    instances[5:15, 0:10] = 1  # columns 0..9
    instances[5:15, 14:24] = 2  # columns 14..23: a 4-pixel gap (10..13)
    weights = unet.weight_map(instances, w0=10, sigma=5)
    target = unet.separation_target(instances)
    counts = np.bincount(target.ravel(), minlength=2)
    w_background = counts.sum() / counts[0] / 2
    d1, d2 = 11 - 9, 14 - 11  # pixel (10, 11): 2 px from cell 1, 3 px from cell 2
    assert weights[10, 11] == pytest.approx(w_background + 10 * math.exp(-(d1 + d2) ** 2 / (2 * 5 ** 2)), rel=1e-5)
    assert weights[10, 5] == pytest.approx(counts.sum() / counts[1] / 2, rel=1e-5)  # inside: w_c only
    assert weights[0, 11] < weights[10, 11]  # the gap between cells weighs most


def test_touching_cells_are_separated_by_background_in_the_target():
    instances = np.zeros((10, 10), np.int32)
    instances[2:8, 1:5], instances[2:8, 5:9] = 1, 2  # touching along one column edge
    target = unet.separation_target(instances)
    assert target[4, 4] == 0 and target[4, 5] == 0  # the shared border
    assert target[4, 2] == 1 and target[4, 7] == 1
    assert target[2, 2] == 1  # an edge against the background stays cell


def test_elastic_deformation_identity_smoothness_and_labels():
    rng = np.random.default_rng(0)
    image = rng.random((64, 48)).astype(np.float32)
    zero = unet.elastic_displacement(64, 48, sigma=0.0, rng=rng)
    np.testing.assert_allclose(unet.elastic_deform(image, zero), image, atol=1e-5)
    field = unet.elastic_displacement(64, 48, sigma=10.0, rng=rng)
    assert field.shape == (2, 64, 48)
    # smooth (a 3×3 grid, bicubically interpolated): neighbours differ far less than white noise would
    assert np.abs(np.diff(field, axis=1)).mean() < 0.2 * field.std()
    labels = (rng.random((64, 48)) * 4).astype(np.int32)
    assert set(np.unique(unet.elastic_deform(labels, field, is_label=True))) <= set(range(4))


def test_synthetic_cells_touch_and_are_labelled():
    image, instances = unet.synthetic_cells(128, np.random.default_rng(3))
    assert image.shape == instances.shape == (128, 128) and 0 <= image.min() and image.max() <= 1
    assert instances.max() >= 2
    touching = (unet.separation_target(instances) == 0) & (instances > 0)
    assert touching.any()


def test_weighted_cross_entropy_equals_plain_with_unit_weights():
    logits = torch.randn(2, 2, 5, 5)
    target = torch.randint(0, 2, (2, 5, 5))
    loss = unet.weighted_cross_entropy(logits, target, torch.ones(2, 5, 5))
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(logits, target))


def test_a_few_training_steps_run_and_reduce_nothing_to_nan():
    model = unet.UNet(base_channels=2, depth=2)
    records = list(unet.train_steps(model, steps=2, batch=1, tile=unet.output_size(60, depth=2)))
    assert [r["step"] for r in records] == [1, 2] and all(math.isfinite(r["loss"]) for r in records)
    assert not model.training


# ------------------------------------------------------------------ the tab's handlers
from demos import unet as tab  # noqa: E402

no_progress = lambda *args, **kwargs: None  # noqa: E731


@pytest.mark.parametrize("model", ["nuclei", "synthetic"])
def test_segment_the_shipped_example_finds_cells_beside_the_baseline(model):
    (image, masks), (_, baseline), probability, summary = tab.segment(tab.EXAMPLES[0], 0.5, False, model,
                                                                      progress=no_progress)
    assert image.shape[2] == 3 and probability.shape == image.shape
    assert len(masks) >= 5 and len(baseline) >= 5 and "objects" in summary and "Otsu + watershed" in summary


def test_shipped_model_re_measures_to_its_stored_claims():
    """The tab's synthetic-cell figures (results/unet.json), re-measured from the shipped weights
    on the first stored seed: foreground IoU, instance F1/recall and count error, U-Net and
    Otsu + watershed alike."""
    from papers import results

    stored = {exp.id: results.claim("unet", exp.id) for exp in unet.EXPERIMENTS if exp.id.startswith("synthetic_")}
    assert set(stored) == {"synthetic_iou", "synthetic_f1", "synthetic_recall", "synthetic_count_error", "synthetic_seg"}
    for exp in unet.EXPERIMENTS:
        if exp.id in stored:
            now = exp.measure(stored[exp.id]["seeds"][0], False)
            assert now["ours"] == pytest.approx(stored[exp.id]["ours"]["per_seed"][0], abs=exp.tolerance), exp.id
            assert now["otsu_watershed"] == pytest.approx(
                stored[exp.id]["baselines"]["otsu_watershed"]["per_seed"][0], abs=exp.tolerance), exp.id
    iou = unet.EXPERIMENTS[0].measure(0, False)["ours"]
    recall = next(e for e in unet.EXPERIMENTS if e.id == "synthetic_recall").measure(0, False)["ours"]
    assert iou > 0.85 and recall < iou  # pixels right, yet merged cells are missed as objects


def test_instance_scores_count_a_merge_as_two_misses_that_foreground_iou_hides():
    truth = np.zeros((20, 30), np.int32)
    truth[5:15, 2:14], truth[5:15, 14:26] = 1, 2  # two touching cells
    merged = (truth > 0).astype(np.int32)  # one object covering both
    assert unet.foreground_iou(merged, truth) == 1.0
    assert unet.instance_scores(merged, truth) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert unet.instance_scores(truth, truth)["f1"] == 1.0
    half = truth.copy()
    half[5:15, 2:8] = 0  # cell 1 found only half: IoU 0.5 is not a match (> 0.5 needed)
    assert unet.matched_instances(half, truth) == (1, 1, 1)
    assert unet.instance_scores(np.zeros_like(truth), truth)["recall"] == 0.0


def test_otsu_watershed_separates_two_touching_discs():
    yy, xx = np.mgrid[:60, :90]
    truth = np.zeros((60, 90), np.int32)
    truth[(yy - 30) ** 2 + (xx - 30) ** 2 < 15 ** 2] = 1
    truth[((yy - 30) ** 2 + (xx - 57) ** 2 < 15 ** 2) & (truth == 0)] = 2  # overlapping discs: they touch
    image = np.where(truth > 0, 0.8, 0.1).astype(np.float32)
    found = unet.otsu_watershed(image)
    assert found.max() == 2 and unet.instance_scores(found, truth)["f1"] == 1.0


@pytest.mark.parametrize("bad", [None, np.zeros((1, 1, 3), np.uint8)])
def test_segment_bad_input_is_a_message(bad):
    with pytest.raises(gr.Error):
        tab.segment(bad, 0.5, False, progress=no_progress)


def test_segment_grey_16bit_input_and_extreme_threshold():
    grey16 = (np.random.default_rng(0).random((40, 50)) * 65535).astype(np.uint16)
    for model in ("nuclei", "synthetic", "no such model"):
        (image, _), _, _, _ = tab.segment(grey16, 5.0, True, model, progress=no_progress)
        assert image.shape == (40, 50, 3)


def test_weight_map_and_elastic_handlers_survive_extremes():
    sample, target, wmap, note = tab.show_weight_map(float("nan"), 1e9, -3)
    assert wmap.shape == sample.shape and "cells" in note
    before, after = tab.show_elastic(float("nan"), 1e6)
    assert before.shape == after.shape


def test_train_a_little_streams_and_finishes():
    outputs = list(tab.train_a_little(tab.EXAMPLES[0], 0, True, False))  # clipped to 2 s
    assert len(outputs) >= 2 and outputs[-1][1] is not None and "Done" in outputs[-1][2]


def test_weight_map_pair_draws_both_nuclei_models_side_by_side_with_their_scores():
    (image, with_masks), (image2, without_masks), note = tab.compare_weight_map(tab.EXAMPLES[0], False)
    assert image.shape == image2.shape and image.shape[2] == 3
    assert len(with_masks) >= 5 and len(without_masks) >= 5
    assert "With the weight map" in note and "Without" in note and note.count("F1") >= 4
    with pytest.raises(gr.Error):
        tab.compare_weight_map(None, False)
