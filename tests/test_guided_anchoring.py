"""Guided Anchoring: the paper's building blocks and targets, the shipped GA-RPN vs RPN, the tab."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from papers import checkpoints, faster_rcnn as frcnn, guided_anchoring as ga

torch.set_num_threads(1)


def test_feature_adaption_with_zero_offsets_is_a_plain_conv():
    """N_T is a deformable 3x3 conv: with the offset conv zeroed it must equal conv2d + ReLU."""
    torch.manual_seed(0)
    adaption = ga.FeatureAdaption(6)
    torch.nn.init.zeros_(adaption.conv_offset.weight)
    features, shape = torch.randn(2, 6, 9, 11), torch.randn(2, 2, 9, 11)
    expected = F.relu(F.conv2d(features, adaption.weight, padding=1))
    torch.testing.assert_close(adaption(features, shape), expected, atol=1e-5, rtol=1e-5)
    torch.nn.init.normal_(adaption.conv_offset.weight, std=1.0)  # and the offsets do move the samples
    assert not torch.allclose(adaption(features, shape), expected, atol=1e-3)


def test_shape_branch_scale():
    """w = sigma * s * e^dw: zero deltas give sigma * stride; +log 2 doubles it."""
    sizes = ga.shape_from_deltas(torch.tensor([[0.0, float(np.log(2.0))]]), 8)
    torch.testing.assert_close(sizes, torch.tensor([[ga.SIGMA * 8, 2 * ga.SIGMA * 8]]))


@pytest.mark.parametrize("box", [[8, 8, 72, 40], [0, 0, 128, 128], [60, 3, 66, 120], [100, 100, 103, 104]])
def test_location_targets_centre_inside_ignore_region(box):
    target = ga.location_targets(torch.tensor([box], dtype=torch.float32), (16, 16), 8)
    positive, ignored = target == 1, target == -1
    assert positive.any(), "every object gets at least one centre cell"
    rows, cols = torch.where(positive)
    centre_row, centre_col = (box[1] + box[3]) / 2 / 8, (box[0] + box[2]) / 2 / 8
    assert (rows.float() + 0.5 - centre_row).abs().max() <= max(1.0, 0.1 * (box[3] - box[1]) / 8 + 1)
    assert (cols.float() + 0.5 - centre_col).abs().max() <= max(1.0, 0.1 * (box[2] - box[0]) / 8 + 1)
    # the ignore ring surrounds the centre region and the rest is negative
    assert positive.sum() <= (positive | ignored).sum() < 16 * 16 or box == [0, 0, 128, 128]


def test_bounded_iou_loss_properties():
    target = torch.tensor([[20.0, 40.0]])
    assert float(ga.bounded_iou_loss(target.clone(), target)) == 0.0
    twice, half = ga.bounded_iou_loss(target * 2, target), ga.bounded_iou_loss(target / 2, target)
    torch.testing.assert_close(twice, half)  # 1 - min(w/wg, wg/w) is symmetric in scale
    assert float(ga.bounded_iou_loss(target * 3, target)) > float(twice) > 0


def test_vIoU_uses_nine_sampled_shapes():
    centres = torch.tensor([[64.0, 64.0]])
    approx = ga.approximate_anchors(centres, 8)
    assert approx.shape == (1, 9, 4)
    torch.testing.assert_close((approx[0, :, :2] + approx[0, :, 2:]) / 2, centres.expand(9, 2))
    positives, matched = ga.shape_targets(torch.tensor([[32.0, 32.0, 96.0, 96.0]]), centres, 8)
    assert positives.tolist() == [0] and matched.tolist() == [[32.0, 32.0, 96.0, 96.0]]


def test_average_recall_extremes():
    truth = [torch.tensor([[10.0, 10.0, 50.0, 30.0]])]
    assert ga.average_recall([truth[0].clone()], truth, 100) == pytest.approx(1.0)
    assert ga.average_recall([torch.tensor([[60.0, 60.0, 90.0, 90.0]])], truth, 100) == 0.0
    shifted = truth[0] + torch.tensor([4.0, 0.0, 4.0, 0.0])  # IoU 36/44 = 0.82: found at 0.5..0.8
    assert ga.average_recall([shifted], truth, 100) == pytest.approx(7 / 10)


def test_a_proposal_is_matched_to_one_box_only():
    box = torch.tensor([[10.0, 10.0, 50.0, 30.0]])
    assert ga.average_recall([box.clone()], [torch.cat([box, box])], 100) == pytest.approx(0.5)  # not 1
    iou = torch.tensor([[0.9, 0.0], [0.8, 0.6]])  # box 0 takes proposal 0; box 1 gets proposal 1
    assert ga.matched_ious(iou).tolist() == pytest.approx([0.9, 0.6])
    assert ga.matched_ious(torch.tensor([[0.7], [0.9]])).tolist() == pytest.approx([0.0, 0.9])


def test_both_models_put_their_anchors_at_the_centres_of_feature_cells():
    torch.manual_seed(0)
    rpn, garpn = ga.PlainRPN().eval(), ga.GARPN().eval()
    image = torch.rand(3, 128, 128)
    sliding = ga.rpn_proposals(rpn, image).anchors  # (Hf, Wf, 9, 4)
    guided = ga.ga_proposals(garpn, image).anchors  # (Hf, Wf, 1, 4)
    centres = lambda a: (a[..., :2] + a[..., 2:]) / 2  # noqa: E731
    torch.testing.assert_close(centres(sliding), centres(guided).expand_as(centres(sliding)))
    assert centres(guided)[0, 0, 0].tolist() == pytest.approx([garpn.stride / 2] * 2)


@pytest.mark.parametrize("variant", ["ga_rpn", "rpn"])
def test_shipped_checkpoints(variant):
    ckpt = ga.CHECKPOINTS[variant]
    path = checkpoints.REPO_WEIGHTS_DIR / ckpt.filename
    assert checkpoints.sha256_file(path) == ckpt.sha256 and path.stat().st_size < 2_000_000


def test_location_threshold_filters_anchors_and_keeps_the_recall():
    """The paper's claim (§3.1, Table 1), re-measured on held-out scenes from the shipped
    checkpoints: at the tab's ε the location branch drops most positions (so the anchor count is
    not the 1-per-position bound by construction), the recall stays as without the filter, and it
    beats the RPN's from 9 anchors per position."""
    scenes = frcnn.synthetic_scenes(25, ga.TEST_SEED, ga.SCENE_STYLE)
    cpu = torch.device("cpu")
    guided_model = ga.load_model("ga_rpn", cpu)
    positions = ga.ga_proposals(guided_model, frcnn.image_to_tensor(scenes[0][0])).location_prob.numel()
    filtered = ga.evaluate_proposals(lambda im: ga.ga_proposals(guided_model, im, ga.DEMO_THRESHOLD), scenes)
    unfiltered = ga.evaluate_proposals(lambda im: ga.ga_proposals(guided_model, im, 0.0), scenes)
    sliding = ga.evaluate_proposals(lambda im: ga.propose("rpn", ga.load_model("rpn", cpu), im), scenes)
    assert unfiltered["anchors_per_image"] == positions
    assert filtered["anchors_per_image"] < 0.5 * positions, filtered  # the filter does filter
    assert filtered["AR@100"] >= unfiltered["AR@100"] - 0.01, (filtered, unfiltered)  # same recall
    assert filtered["AR@100"] > sliding["AR@100"] + 0.05, (filtered, sliding)
    assert sliding["anchors_per_image"] == 9 * positions


def test_results_file_states_the_comparison_with_seeds():
    """results/guided-anchoring.json: GA-RPN beats the RPN from fewer anchors on every seed."""
    from papers import results

    for prefix in ("shipped", "retrained"):
        recall, anchors = results.claim("guided-anchoring", f"{prefix}_ar100"), results.claim("guided-anchoring", f"{prefix}_anchors")
        assert recall["ours"]["n_seeds"] >= 3
        assert all(g > r for g, r in zip(recall["ours"]["per_seed"], recall["baselines"]["rpn"]["per_seed"]))
        assert all(g < r for g, r in zip(anchors["ours"]["per_seed"], anchors["baselines"]["rpn"]["per_seed"]))


# --------------------------------------------------------------------------- the tab
gr = pytest.importorskip("gradio")
from demos import guided_anchoring as demo  # noqa: E402


def test_propose_handler_on_an_example():
    location_map, guided, sliding, ga_props, rpn_props, summary, sampling, note = demo.propose(
        demo.example_paths("ga_shapes_1.png")[0], ga.LOCATION_THRESHOLD, 8, 20)
    assert location_map.shape == guided.shape == sliding.shape == ga_props.shape == rpn_props.shape == (256, 256, 3)
    assert "GA-RPN" in summary and "sliding-window anchors" in summary
    assert sampling.shape == (256, 256, 3) and "deformable" in note


def test_clicking_the_location_map_shows_that_cells_sampling_points():
    event = gr.SelectData(None, {"index": [250, 3], "value": None})  # top right corner -> cell (0, 15)
    picture, note = demo.sampling_at(demo.example_paths("ga_shapes_1.png")[0], event)
    assert picture.shape == (256, 256, 3) and "(0, 15)" in note


def test_sampling_points_are_where_torchvisions_deformable_conv_reads():
    """Sample a feature map whose channels are the x and y coordinates (in cells) with
    deform_conv2d and one-hot weights: bilinear sampling of a ramp returns the point itself."""
    from torchvision.ops import deform_conv2d

    torch.manual_seed(0)
    model = ga.GARPN().eval()
    with torch.no_grad():
        model.head.feature_adaption.conv_offset.weight.normal_(std=0.5)  # visible offsets
    image = torch.rand(3, 128, 128)
    row, col = 7, 9
    regular, moved = ga.sampling_points(model, image, row, col)
    batch, _ = frcnn.preprocess([image], model.config)
    with torch.no_grad():
        hidden = model.head.conv(model.backbone(batch)["0"])
        offsets = model.head.feature_adaption.conv_offset(model.head.conv_shape(hidden))
    grid = hidden.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(grid[0]).float(), torch.arange(grid[1]).float(), indexing="ij")
    ramps = torch.stack([xs, ys])[None]  # (1, 2, Hf, Wf)
    weight = torch.zeros(18, 2, 3, 3)  # output 2k + c reads input channel c at tap k
    for k in range(9):
        for c in range(2):
            weight[2 * k + c, c, k // 3, k % 3] = 1
    read = deform_conv2d(ramps, offsets, weight, padding=1)[0, :, row, col].reshape(9, 2)  # (x, y) in cells
    to_pixels = (read + 0.5) * model.stride
    np.testing.assert_allclose(moved, to_pixels.numpy(), atol=1e-4)
    np.testing.assert_allclose(regular[4], [(col + 0.5) * 8, (row + 0.5) * 8])  # the centre tap


@pytest.mark.parametrize("value", [np.zeros((30, 30), np.uint8), np.full((20, 900, 4), 255, np.uint8),
                                   np.full((64, 64, 3), 65535, np.uint16)])
def test_propose_handler_accepts_odd_images(value):
    outputs = demo.propose(value, 0.9, 30, 100)  # sliders at their extremes
    assert outputs[0].shape[:2] == outputs[3].shape[:2]


@pytest.mark.parametrize("value", [None, np.zeros((2, 2, 3), np.uint8)])
def test_propose_handler_rejects_bad_images(value):
    with pytest.raises(gr.Error):
        demo.propose(value, 0.01, 8, 20)


def test_measure_streams_progress_then_a_table():
    messages = list(demo.measure(25, ga.LOCATION_THRESHOLD))
    assert messages[0][0].startswith("Measuring GA-RPN")
    table, by_epsilon, _, by_n = messages[-1]
    assert "| GA-RPN |" in table and "| RPN |" in table
    guided = by_epsilon[by_epsilon.model == "GA-RPN"].sort_values("ε")
    assert guided["ε"].tolist() == list(ga.SWEEP_EPSILONS)
    assert guided["anchors / image"].iloc[0] == 256  # ε = 0 keeps every position of the 16 x 16 map
    assert guided["anchors / image"].is_monotonic_decreasing  # a larger ε keeps fewer anchors
    assert set(by_epsilon[by_epsilon.model != "GA-RPN"]["anchors / image"]) == {2304}  # 9 per position
    for _, curve in by_n.groupby("model"):
        assert curve.sort_values("proposals N")["AR@N (%)"].is_monotonic_increasing  # more proposals, more recall


def test_the_epsilon_plots_open_on_the_stored_sweep():
    by_epsilon, _ = demo.stored_sweep()
    guided = by_epsilon[by_epsilon.model == "GA-RPN"].sort_values("ε")
    assert guided["ε"].tolist() == list(ga.SWEEP_EPSILONS)
    assert guided["anchors / image"].iloc[0] == 256 and guided["anchors / image"].is_monotonic_decreasing
    rpn = by_epsilon[by_epsilon.model != "GA-RPN"]
    assert set(rpn["anchors / image"]) == {2304}
    assert guided["AR@100 (%)"].iloc[0] == pytest.approx(ga_results("sweep_ar100", ga.epsilon_key(0.0)))


def ga_results(claim, key):
    from papers.results import value

    return value("guided-anchoring", claim, key)
