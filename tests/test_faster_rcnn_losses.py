"""Faster R-CNN's training losses, box coding, anchors and mAP against cases computed by hand
(the numbers in the comments), so each test fails if the formula it names were wrong."""
import math

import numpy as np
import pytest
import torch

from papers import faster_rcnn as frcnn

torch.set_num_threads(1)


def softplus(x):
    return math.log1p(math.exp(x))


# --------------------------------------------------------------------------- Eq. 2
def test_box_encoding_matches_eq_2_by_hand():
    anchor = torch.tensor([[0.0, 0.0, 10.0, 20.0]])  # centre (5, 10), w 10, h 20
    target = torch.tensor([[5.0, 5.0, 25.0, 25.0]])  # centre (15, 15), w 20, h 20
    # t_x = (15 - 5) / 10 = 1, t_y = (15 - 10) / 20 = 0.25, t_w = log(20 / 10), t_h = log(20 / 20)
    expected = torch.tensor([[1.0, 0.25, math.log(2.0), 0.0]])
    torch.testing.assert_close(frcnn.encode_boxes(target, anchor), expected)
    # the box head's weights (10, 10, 5, 5) scale each delta
    torch.testing.assert_close(frcnn.encode_boxes(target, anchor, frcnn.BOX_DELTA_WEIGHTS),
                               expected * torch.tensor([10.0, 10.0, 5.0, 5.0]))
    for weights in (frcnn.RPN_DELTA_WEIGHTS, frcnn.BOX_DELTA_WEIGHTS):  # the round trip
        torch.testing.assert_close(frcnn.decode_boxes(frcnn.encode_boxes(target, anchor, weights), anchor, weights),
                                   target)


def test_decoding_applies_one_delta_set_per_class():
    anchor = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
    deltas = torch.tensor([[0.0, 0.0, 0.0, 0.0, 1.0, 0.25, math.log(2.0), 0.0]])  # class 0: keep, class 1: move
    torch.testing.assert_close(frcnn.decode_boxes(deltas, anchor),
                               torch.tensor([[0.0, 0.0, 10.0, 20.0, 5.0, 5.0, 25.0, 25.0]]))


# --------------------------------------------------------------------------- anchors (§3.1.1)
def test_cell_anchors_are_scales_times_ratios_of_equal_area():
    # scale s, ratio r = h / w: w = s / sqrt(r), h = s * sqrt(r); half-sides rounded
    # s 16: r 0.5 -> w 22.6, h 11.3 -> (11, 6); r 1 -> (8, 8); r 2 -> (6, 11)
    # s 32: r 0.5 -> w 45.3, h 22.6 -> (23, 11); r 1 -> (16, 16); r 2 -> (11, 23)
    expected = torch.tensor([[-11, -6, 11, 6], [-23, -11, 23, 11],  # ratio-major: r 0.5 at s 16, 32
                             [-8, -8, 8, 8], [-16, -16, 16, 16],
                             [-6, -11, 6, 11], [-11, -23, 11, 23]], dtype=torch.float32)
    assert torch.equal(frcnn.cell_anchors((16, 32), (0.5, 1.0, 2.0)), expected)


def test_grid_anchors_sit_at_every_position_in_head_order():
    base = torch.tensor([[-5.0, -5.0, 5.0, 5.0], [-2.0, -4.0, 2.0, 4.0]])
    anchors = frcnn.grid_anchors(base, (2, 3), (8, 10))  # 2 rows, 3 columns, stride 8 down, 10 across
    assert anchors.shape == (2 * 3 * 2, 4)
    centres = ((anchors[:, :2] + anchors[:, 2:]) / 2).tolist()
    # row-major positions, the k anchors of one position together; centre (column * 10, row * 8)
    assert centres == [[x, y] for y in (0, 8) for x in (0, 10, 20) for _ in range(2)]
    assert anchors[(1 * 3 + 1) * 2 + 1].tolist() == [10 - 2, 8 - 4, 10 + 2, 8 + 4]  # row 1, column 1, anchor 1


# --------------------------------------------------------------------------- Eq. 1 (RPN)
def test_rpn_loss_equals_eq_1_by_hand():
    anchors = torch.tensor([[1.0, 0.0, 11.0, 10.0],  # IoU 90/110 = 0.82 with the box: positive
                            [0.0, 0.0, 10.0, 20.0],  # IoU 0.5: neither, ignored
                            [50.0, 50.0, 60.0, 60.0],  # IoU 0: negative
                            [20.0, 0.0, 30.0, 10.0]])  # IoU 0: negative
    gt = [torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.zeros((0, 4))]  # the second image has no object
    logits = torch.tensor([[2.0, 0.3, -1.0, 0.5], [0.0, 1.0, -2.0, 3.0]])
    deltas = torch.full((2, 4, 4), 7.0)  # only positives' deltas count
    # the positive's target: t_x = (5 - 6) / 10 = -0.1, the rest 0; its prediction is off by
    # (1.5, -0.2, 0.1, 0): smooth-L1 = (1.5 - 0.5) + 0.5 * 0.04 + 0.5 * 0.01 + 0 = 1.025
    deltas[0, 0] = torch.tensor([1.4, -0.2, 0.1, 0.0])
    num_locations = 2
    cls, reg = frcnn.rpn_losses(logits, deltas, anchors, gt, num_locations, torch.Generator().manual_seed(0))
    # log loss over the sampled anchors (image 1: three, image 2: all four negatives), averaged per image
    image1 = (softplus(-2.0) + softplus(-1.0) + softplus(0.5)) / 3
    image2 = (softplus(0.0) + softplus(1.0) + softplus(-2.0) + softplus(3.0)) / 4
    assert float(cls) == pytest.approx((image1 + image2) / 2, rel=1e-6)
    # lambda = 10, N_reg = anchor locations, then the mean over the two images
    assert float(reg) == pytest.approx((10 * 1.025 / num_locations + 0) / 2, rel=1e-6)


# --------------------------------------------------------------------------- Fast R-CNN's loss (box head)
def test_box_head_loss_equals_fast_rcnn_eq_1_by_hand():
    class_logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]])  # 3 RoIs, K + 1 = 3
    labels = torch.tensor([0, 1, 2])  # background, class 1, class 2
    box_deltas = torch.full((3, 3 * 4), 9.0)  # only the true class's deltas of foreground RoIs count
    box_deltas[1, 4:8] = torch.tensor([0.5, 0.0, 0.0, 2.0])  # RoI 1, class 1
    box_deltas[2, 8:12] = torch.zeros(4)  # RoI 2, class 2
    targets = torch.tensor([[5.0, 5.0, 5.0, 5.0], [0.0, 0.0, 0.0, 0.0], [0.1, 0.0, 0.0, 0.0]])
    cls, loc = frcnn.box_head_losses(class_logits, box_deltas, labels, targets)
    log_loss = [-math.log(math.exp(2) / (math.exp(2) + 2)), -math.log(math.e / (math.e + 2)),
                -math.log(math.exp(3) / (math.exp(3) + 2))]
    assert float(cls) == pytest.approx(sum(log_loss) / 3, rel=1e-6)
    # RoI 1: 0.5 * 0.5^2 + (2 - 0.5) = 1.625; RoI 2: 0.5 * 0.1^2 = 0.005; divided by all 3 RoIs
    assert float(loc) == pytest.approx((1.625 + 0.005) / 3, rel=1e-6)


def test_roi_sampling_labels_by_iou_ranges(monkeypatch):
    gt_boxes, gt_labels = torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.tensor([2])
    proposals = torch.tensor([[0.0, 0.0, 10.0, 15.0],  # IoU 100/150 = 0.67: foreground, class 2
                              [0.0, 0.0, 10.0, 30.0],  # IoU 1/3: background
                              [8.0, 8.0, 18.0, 18.0],  # IoU 4/196 = 0.02: background only from IoU 0
                              [50.0, 50.0, 60.0, 60.0]])  # IoU 0
    for low, sampled_background in ((0.0, 3), (0.1, 1)):
        monkeypatch.setattr(frcnn, "ROI_BACKGROUND_IOU", (low, 0.5))
        rois, labels, targets = frcnn.sample_rois(proposals, gt_boxes, gt_labels, torch.Generator().manual_seed(0))
        assert sorted(labels.tolist()) == [0] * sampled_background + [2, 2]  # the box itself joins as an RoI
        foreground = {tuple(r) for r in rois[labels > 0].tolist()}
        assert foreground == {(0.0, 0.0, 10.0, 15.0), (0.0, 0.0, 10.0, 10.0)}
        first = rois.tolist().index([0.0, 0.0, 10.0, 15.0])
        # target: centre (5, 5) vs (5, 7.5) -> t_y = -2.5 / 15, t_h = log(10 / 15), times (10, 10, 5, 5)
        torch.testing.assert_close(targets[first], torch.tensor([0.0, -25 / 15, 0.0, 5 * math.log(10 / 15)]))


# --------------------------------------------------------------------------- mAP
def test_average_precision_all_points_by_hand():
    # detections by score: TP, FP, TP, FP over 3 objects: precision 1, 1/2, 2/3, 1/2 at recall
    # 1/3, 1/3, 2/3, 2/3; the envelope gives 1 up to recall 1/3 and 2/3 up to 2/3: AP = 5/9
    assert frcnn.average_precision([0.9, 0.8, 0.7, 0.6], [True, False, True, False], 3) == pytest.approx(5 / 9)
    assert frcnn.average_precision([0.6, 0.9], [True, False], 1) == pytest.approx(1 / 2)  # sorted by score


def test_mean_average_precision_by_hand():
    """Two images, two classes; class 1 has a duplicate detection (a false positive), a false
    alarm, and an object nobody found; class 2's one detection fits at IoU 0.62."""
    truth = [(np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 40, 40]], np.float32), np.array([1, 1, 2])),
             (np.array([[0, 0, 20, 20]], np.float32), np.array([1]))]
    predictions = [
        (torch.tensor([[0, 0, 10, 10], [1, 0, 11, 10], [80, 80, 90, 90], [20, 20, 40, 52], [50, 50, 60, 60.]]),
         torch.tensor([0.9, 0.8, 0.6, 0.7, 0.1]),
         torch.tensor([1, 1, 1, 2, 2])),  # the last: the right place, the wrong class (class 2's FP)
        (torch.tensor([[0, 0, 20, 18.]]), torch.tensor([0.7]), torch.tensor([1])),
    ]
    # class 1 by score: 0.9 TP (IoU 1), 0.8 FP (IoU 0.82 with a taken box), 0.7 TP (IoU 0.9),
    # 0.6 FP; 3 objects (one missed) -> AP 5/9. Class 2: 0.7 (IoU 400/640) then 0.1 FP ->
    # AP 1 at IoU 0.5, 0 at IoU 0.75.
    assert frcnn.mean_average_precision(predictions, truth, 0.5, 3) == pytest.approx((5 / 9 + 1) / 2)
    assert frcnn.mean_average_precision(predictions, truth, 0.75, 3) == pytest.approx((5 / 9 + 0) / 2)
    assert frcnn.mean_average_precision(predictions, truth, 0.95, 3) == pytest.approx((1 / 3 + 0) / 2)
