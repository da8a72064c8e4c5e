"""Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks.

Shaoqing Ren, Kaiming He, Ross Girshick, Jian Sun — NeurIPS 2015. https://arxiv.org/abs/1506.01497

A two-stage detector. A small *Region Proposal Network* slides over the backbone's feature map
and, at every position, scores k reference boxes ("anchors": scales x aspect ratios, §3.1.1) for
objectness and regresses each towards an object (§3.1.2, Eq. 2). The best few hundred boxes that
survive non-maximum suppression are the proposals; *RoI pooling* cuts a fixed-size feature grid
out of each (Fast R-CNN's layer), and a box head classifies it and refines its box once more.
Both stages share the backbone's features (§3.2), so proposals need only a small head and an NMS
instead of a separate method (Selective Search: seconds per image on a CPU, Table 5): cheap, not
free. The tab times every stage on the visitor's image and states the RPN's time against the
backbone's; for the tiny shapes detector the two are comparable.

Two families of models use the same code here:
* torchvision-compatible detectors (MobileNetV3-Large FPN, ResNet-50 FPN) with torchvision's
  parameter names, so the COCO weights torchvision publishes load unchanged;
* a tiny detector trained here in a few CPU minutes on generated scenes of shapes
  (`synthetic_scenes`), so the tab detects something offline.

What the tiny detector achieves is measured by `python -m papers.reproduce faster-rcnn` into
results/faster-rcnn.json: shipped_map50 and shipped_map_coco (held-out mAP), proposal_recall and
proposal_average_recall (its RPN's 300 proposals against two non-learned proposal methods: the
same anchors picked at random, and Felzenszwalb segment boxes as Selective Search starts from),
proposal_recall_at_N (the same against the number of proposals, 10 to 200), and
rpn_ablation_map50 (Table 2's test-time ablation: the RPN without its cls or its reg layer).

**Deviations from the paper**
- Backbones: torchvision's MobileNetV3-Large/ResNet-50 with a Feature Pyramid Network (Lin et
  al. 2017) instead of ZF/VGG-16 on one feature map; with an FPN the anchors of one size live
  on one pyramid level, and proposals are selected per level before a per-level NMS
  (torchvision's rule). The tiny self-trained model has one feature map, as in the paper.
- The COCO models pool with FPN's multi-scale RoIAlign (Mask R-CNN) instead of RoI max pooling,
  because their weights were trained with it; the self-trained model uses the paper's RoI
  pooling (`roi_pool`, written here).
- Box deltas are encoded with fixed weights (1,1,1,1) in the RPN and (10,10,5,5) in the box head
  (Fast R-CNN's target normalisation), and `exp` is clamped at log(1000/16), like torchvision.
- Self-trained model: approximate joint training (§3.2, option ii) with AdamW and a cosine
  schedule for a few hundred steps on 128 px generated images, not SGD for 80k steps on
  PASCAL VOC; proposals: 1000 before / 300 after NMS at test time (paper: 6000 / 300);
  cross-boundary anchors are kept in training (the paper ignores them, §3.3; at 128 px a third
  of the anchors cross the border).
- Self-trained model, detector training: each image gives the box head 300 proposals (the top
  1000 before NMS, `TRAIN_PRE_NMS_TOP_N` / `TRAIN_POST_NMS_TOP_N`), not the paper's 2000 (from
  12000 in the authors' code); a 128 px image has only 2304 anchors, so 2000 would mean every box
  that survives NMS. Background RoIs are those with best IoU in [0, 0.5) (`ROI_BACKGROUND_IOU`),
  as in the authors' end-to-end configuration (py-faster-rcnn's faster_rcnn_end2end.yml sets
  BG_THRESH_LO 0.0), not Fast R-CNN's [0.1, 0.5) (§2.3), which would never show the box head the
  empty background that fills these scenes. One retraining with the paper's values ([0.1, 0.5),
  every NMS survivor of the top 12000), seed 0, scored no better mAP on the validation scenes
  (`TEST_SEED`), so the shipped checkpoint keeps the values above.
- Anchor centres sit at (j * stride, i * stride) on the network's input (torchvision's
  convention, which its COCO weights need); the authors' Caffe code centres them at
  (j * stride + (stride - 1) / 2, ...). The tiny model uses the same convention.
- Smooth-L1 (beta = 1) and Eq. 1's normalisation (N_cls = sampled anchors, N_reg = anchor
  locations, lambda = 10) are used for the RPN; torchvision's COCO weights were trained with
  its own loss normalisation.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from papers.checkpoints import Checkpoint, cached_model, get_device, load_state_dict

BBOX_XFORM_CLIP = math.log(1000.0 / 16)  # largest log-scale a delta may apply (torchvision)
RPN_DELTA_WEIGHTS = (1.0, 1.0, 1.0, 1.0)
BOX_DELTA_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class DetectorConfig:
    """Everything that differs between the detectors built by `build_detector`."""

    backbone: str  # "mobilenet_v3_large_fpn" | "resnet50_fpn" | "tiny"
    categories: tuple[str, ...]  # index 0 is the background
    anchor_sizes: tuple[tuple[int, ...], ...]  # one tuple of scales per feature level
    aspect_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)  # height / width (§3.1.1)
    min_size: int = 800  # shorter image side after resizing
    max_size: int = 1333
    size_divisible: int = 32
    image_mean: tuple[float, ...] = IMAGENET_MEAN
    image_std: tuple[float, ...] = IMAGENET_STD
    rpn_pre_nms_top_n: int = 1000  # per level, at test time
    rpn_post_nms_top_n: int = 1000
    rpn_nms_thresh: float = 0.7  # §3.3
    rpn_score_thresh: float = 0.0
    rpn_min_size: float = 1e-3
    box_score_thresh: float = 0.05
    box_nms_thresh: float = 0.5
    detections_per_img: int = 100
    representation_size: int = 1024
    pool_size: int = 7
    tiny_channels: tuple[int, ...] = (16, 32, 64)  # tiny backbone only: widths at strides 2, 4, 8

    @property
    def num_classes(self) -> int:
        return len(self.categories)


# --------------------------------------------------------------------------- boxes
def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Pairwise intersection over union, (N, 4) x (M, 4) -> (N, M); boxes are x1, y1, x2, y2."""
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)  # (N, M)
    return inter / (box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter)


def clip_boxes(boxes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    height, width = image_size
    x = boxes[..., 0::2].clamp(0, width)
    y = boxes[..., 1::2].clamp(0, height)
    return torch.stack((x, y), dim=-1).reshape(boxes.shape)


def keep_big_boxes(boxes: torch.Tensor, min_size: float) -> torch.Tensor:
    """Indices of boxes whose sides are both at least `min_size` ("drop tiny", §3.3)."""
    widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return torch.where((widths >= min_size) & (heights >= min_size))[0]


def encode_boxes(targets: torch.Tensor, anchors: torch.Tensor, weights=RPN_DELTA_WEIGHTS) -> torch.Tensor:
    """Eq. 2: t_x = (x - x_a) / w_a, t_y = (y - y_a) / h_a, t_w = log(w / w_a), t_h = log(h / h_a),
    each multiplied by its weight. `targets`, `anchors`: (N, 4) corners -> (N, 4) deltas."""
    wx, wy, ww, wh = weights
    anchor_w, anchor_h = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    anchor_x, anchor_y = anchors[:, 0] + 0.5 * anchor_w, anchors[:, 1] + 0.5 * anchor_h
    target_w, target_h = targets[:, 2] - targets[:, 0], targets[:, 3] - targets[:, 1]
    target_x, target_y = targets[:, 0] + 0.5 * target_w, targets[:, 1] + 0.5 * target_h
    return torch.stack((wx * (target_x - anchor_x) / anchor_w, wy * (target_y - anchor_y) / anchor_h,
                        ww * torch.log(target_w / anchor_w), wh * torch.log(target_h / anchor_h)), dim=1)


def decode_boxes(deltas: torch.Tensor, anchors: torch.Tensor, weights=RPN_DELTA_WEIGHTS) -> torch.Tensor:
    """The inverse of Eq. 2. `deltas`: (N, 4k) (k boxes per anchor, e.g. one per class),
    `anchors`: (N, 4) -> (N, 4k) corners."""
    wx, wy, ww, wh = weights
    anchor_w = (anchors[:, 2] - anchors[:, 0])[:, None]  # (N, 1)
    anchor_h = (anchors[:, 3] - anchors[:, 1])[:, None]
    anchor_x, anchor_y = anchors[:, :1] + 0.5 * anchor_w, anchors[:, 1:2] + 0.5 * anchor_h
    dx, dy = deltas[:, 0::4] / wx, deltas[:, 1::4] / wy  # (N, k)
    dw = (deltas[:, 2::4] / ww).clamp(max=BBOX_XFORM_CLIP)
    dh = (deltas[:, 3::4] / wh).clamp(max=BBOX_XFORM_CLIP)
    centre_x, centre_y = dx * anchor_w + anchor_x, dy * anchor_h + anchor_y
    half_w, half_h = 0.5 * torch.exp(dw) * anchor_w, 0.5 * torch.exp(dh) * anchor_h
    corners = (centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h)
    return torch.stack(corners, dim=2).flatten(1)  # (N, k, 4) -> (N, 4k)


# --------------------------------------------------------------------------- NMS and RoI pooling
def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression (§3.3): take the best-scoring box, drop every remaining box
    that overlaps it by IoU > `iou_threshold`, repeat. Returns kept indices, best first."""
    order = torch.sort(scores, descending=True, stable=True).indices
    keep = []
    while order.numel() > 0:
        best, order = order[0], order[1:]
        keep.append(best)
        overlap = box_iou(boxes[best][None], boxes[order])[0]  # (remaining,)
        order = order[~(overlap > iou_threshold)]  # NaN (empty boxes) never suppresses
    return torch.stack(keep) if keep else torch.empty(0, dtype=torch.long, device=boxes.device)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor,
                iou_threshold: float) -> torch.Tensor:
    """NMS run independently within each group (class or pyramid level); kept indices by score."""
    keep = [torch.where(groups == g)[0][nms(boxes[groups == g], scores[groups == g], iou_threshold)]
            for g in torch.unique(groups)]
    if not keep:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    keep = torch.cat(keep)
    return keep[torch.sort(scores[keep], descending=True).indices]


def batched_nms_kernel(fast: bool):
    """Ours, or torchvision's C++ kernel, which the tests show keeps exactly the same boxes."""
    if fast:
        from torchvision.ops import batched_nms as torchvision_batched_nms
        return torchvision_batched_nms
    return batched_nms


def _round(value: float) -> int:
    """Round half away from zero (C's `round`, which Fast R-CNN's RoI pooling layer uses)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def roi_pool(features: torch.Tensor, boxes: torch.Tensor, output_size, spatial_scale: float) -> torch.Tensor:
    """RoI max pooling (Fast R-CNN §2.1, used by Faster R-CNN's detector).

    Each region (K, 5: batch index, x1, y1, x2, y2 in image pixels) is projected onto the
    feature map (coordinates x `spatial_scale`, rounded), divided into an H x W grid of
    sub-windows of size h/H x w/W, and each sub-window is max-pooled; empty sub-windows give 0.
    features (N, C, Hf, Wf) -> (K, C, H, W).
    """
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    _, channels, feat_h, feat_w = features.shape
    pooled = features.new_zeros((len(boxes), channels, out_h, out_w))
    grid_h = torch.arange(out_h + 1, dtype=features.dtype)  # sub-window boundaries, in bins
    grid_w = torch.arange(out_w + 1, dtype=features.dtype)
    for k, (batch, x1, y1, x2, y2) in enumerate(boxes.tolist()):
        x_start, y_start = _round(x1 * spatial_scale), _round(y1 * spatial_scale)
        roi_w = max(_round(x2 * spatial_scale) - x_start + 1, 1)
        roi_h = max(_round(y2 * spatial_scale) - y_start + 1, 1)
        # sub-window edges: floor(i * h / H) .. ceil((i + 1) * h / H), clipped to the map
        bin_h, bin_w = grid_h * (roi_h / out_h), grid_w * (roi_w / out_w)
        rows_from = (torch.floor(bin_h[:-1]).long() + y_start).clamp(0, feat_h)
        rows_to = (torch.ceil(bin_h[1:]).long() + y_start).clamp(0, feat_h)
        cols_from = (torch.floor(bin_w[:-1]).long() + x_start).clamp(0, feat_w)
        cols_to = (torch.ceil(bin_w[1:]).long() + x_start).clamp(0, feat_w)
        pooled[k] = _max_over_windows(features[int(batch)], rows_from, rows_to, cols_from, cols_to)
    return pooled


def _max_over_windows(feature, rows_from, rows_to, cols_from, cols_to) -> torch.Tensor:
    """Separable max over the sub-windows of one region: (C, Hf, Wf) -> (C, H, W), empty -> 0."""
    top, bottom = int(rows_from.min()), int(rows_to.max())
    left, right = int(cols_from.min()), int(cols_to.max())
    if bottom <= top or right <= left:
        return feature.new_zeros((feature.shape[0], len(rows_from), len(cols_from)))
    crop = feature[:, top:bottom, left:right]  # (C, h, w)
    rows = torch.arange(top, bottom)
    cols = torch.arange(left, right)
    in_row = (rows[None] >= rows_from[:, None]) & (rows[None] < rows_to[:, None])  # (H, h)
    in_col = (cols[None] >= cols_from[:, None]) & (cols[None] < cols_to[:, None])  # (W, w)
    neg_inf = torch.finfo(feature.dtype).min
    col_max = crop[:, :, None, :].masked_fill(~in_col[None, None], neg_inf).amax(dim=3)  # (C, h, W)
    cell_max = col_max[:, None].masked_fill(~in_row[None, :, :, None], neg_inf).amax(dim=2)  # (C, H, W)
    empty = ~(in_row.any(1)[:, None] & in_col.any(1)[None, :])  # (H, W)
    return cell_max.masked_fill(empty[None], 0.0)


class RoIPool(nn.Module):
    """`roi_pool` on one feature map, called like torchvision's MultiScaleRoIAlign."""

    def __init__(self, featmap_name: str, output_size: int, spatial_scale: float):
        super().__init__()
        self.featmap_name, self.output_size, self.spatial_scale = featmap_name, output_size, spatial_scale
        self.fast = False  # True: torchvision's C++ kernel (same numbers, tested)

    def forward(self, features: dict, proposals: list[torch.Tensor], image_sizes=None) -> torch.Tensor:
        from torchvision.ops import roi_pool as torchvision_roi_pool

        rois = torch.cat([torch.cat([torch.full_like(p[:, :1], i), p], dim=1) for i, p in enumerate(proposals)])
        pool = torchvision_roi_pool if self.fast else roi_pool
        return pool(features[self.featmap_name], rois, self.output_size, self.spatial_scale)


# --------------------------------------------------------------------------- anchors (§3.1.1)
def cell_anchors(scales, aspect_ratios) -> torch.Tensor:
    """The k = len(ratios) x len(scales) reference boxes centred on (0, 0), ratio-major, (k, 4).
    Ratio r = height / width keeps the area: w = s / sqrt(r), h = s * sqrt(r); corners rounded."""
    scales = torch.as_tensor(scales, dtype=torch.float32)
    h_ratios = torch.sqrt(torch.as_tensor(aspect_ratios, dtype=torch.float32))
    widths = (scales[None, :] / h_ratios[:, None]).reshape(-1)  # (k,)
    heights = (scales[None, :] * h_ratios[:, None]).reshape(-1)
    return (torch.stack((-widths, -heights, widths, heights), dim=1) / 2).round()


def grid_anchors(base: torch.Tensor, grid_size: tuple[int, int], stride: tuple[int, int]) -> torch.Tensor:
    """The reference boxes at every feature-map position (translation invariant, §3.1.1):
    (k, 4) -> (Hf * Wf * k, 4), ordered row, column, anchor (the RPN head's output order)."""
    (grid_h, grid_w), (stride_h, stride_w) = grid_size, stride
    shift_y, shift_x = torch.meshgrid(torch.arange(grid_h) * stride_h, torch.arange(grid_w) * stride_w,
                                      indexing="ij")
    shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=-1).reshape(-1, 1, 4)  # (Hf*Wf, 1, 4)
    return (shifts + base.to(shifts.device)[None]).reshape(-1, 4).float()


# --------------------------------------------------------------------------- RPN (§3.1)
class RPNHead(nn.Module):
    """The mini-network slid over the feature map (§3.1): a 3x3 conv + ReLU, then two sibling 1x1
    convs: k objectness logits (`cls_logits`) and 4k box deltas (`bbox_pred`) per position.
    (The paper's 2k-softmax is written as k logistic outputs, as the paper notes is equivalent.)"""

    def __init__(self, in_channels: int, num_anchors: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Sequential(nn.Conv2d(in_channels, in_channels, 3, padding=1),
                                                nn.ReLU(inplace=True)))
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, 1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, 1)
        for layer in self.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, std=0.01)  # §3.3: zero-mean Gaussian, std 0.01
                nn.init.zeros_(layer.bias)

    def forward(self, features: list[torch.Tensor]):
        hidden = [self.conv(f) for f in features]
        return [self.cls_logits(h) for h in hidden], [self.bbox_pred(h) for h in hidden]


def flatten_head_outputs(logits: list[torch.Tensor], deltas: list[torch.Tensor]):
    """Per level (B, k, Hf, Wf) and (B, 4k, Hf, Wf) -> (B, sum Hf*Wf*k) and (B, sum Hf*Wf*k, 4),
    in the anchors' order (row, column, anchor)."""
    batch = logits[0].shape[0]
    flat_logits = [l.permute(0, 2, 3, 1).reshape(batch, -1) for l in logits]
    flat_deltas = [d.reshape(batch, -1, 4, *d.shape[2:]).permute(0, 3, 4, 1, 2).reshape(batch, -1, 4)
                   for d in deltas]  # (B, k, 4, Hf, Wf) -> (B, Hf, Wf, k, 4)
    return torch.cat(flat_logits, dim=1), torch.cat(flat_deltas, dim=1)


@dataclass
class ProposalTrace:
    """What happened inside proposal selection for one image (for the "look inside" view)."""

    top_boxes: torch.Tensor  # the top-n per level, clipped, before NMS
    top_scores: torch.Tensor
    boxes: torch.Tensor  # after NMS and the final top-n
    scores: torch.Tensor


def select_proposals(boxes: torch.Tensor, logits: torch.Tensor, levels: torch.Tensor, image_size,
                     pre_nms_top_n: int, post_nms_top_n: int, nms_thresh: float, score_thresh: float,
                     min_size: float, fast: bool = False) -> ProposalTrace:
    """§3.3 for one image: top-n by objectness per level, clip to the image, drop tiny boxes and
    low scores, NMS (per level) at `nms_thresh`, keep the best `post_nms_top_n`."""
    top = [torch.where(levels == lvl)[0][logits[levels == lvl].topk(
        min(pre_nms_top_n, int((levels == lvl).sum()))).indices] for lvl in torch.unique(levels)]
    top = torch.cat(top) if top else torch.empty(0, dtype=torch.long, device=boxes.device)
    boxes, scores, levels = clip_boxes(boxes[top], image_size), torch.sigmoid(logits[top]), levels[top]
    keep = keep_big_boxes(boxes, min_size)
    boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
    keep = torch.where(scores >= score_thresh)[0]
    top_boxes, top_scores, levels = boxes[keep], scores[keep], levels[keep]
    keep = batched_nms_kernel(fast)(top_boxes, top_scores, levels, nms_thresh)[:post_nms_top_n]
    return ProposalTrace(top_boxes, top_scores, top_boxes[keep], top_scores[keep])


class RegionProposalNetwork(nn.Module):
    def __init__(self, config: DetectorConfig, in_channels: int):
        super().__init__()
        self.config = config
        self.base_anchors = [cell_anchors(s, config.aspect_ratios) for s in config.anchor_sizes]
        self.head = RPNHead(in_channels, len(self.base_anchors[0]))
        self.fast = False

    def anchors(self, features: list[torch.Tensor], padded_size) -> list[torch.Tensor]:
        """Anchors per level for the padded batch; stride = padded size // feature size."""
        return [grid_anchors(base, f.shape[-2:], (padded_size[0] // f.shape[-2], padded_size[1] // f.shape[-1]))
                .to(f.device) for base, f in zip(self.base_anchors, features)]

    def forward(self, features: list[torch.Tensor], padded_size, image_sizes, pre_nms_top_n=None,
                post_nms_top_n=None):
        """-> (per-image ProposalTrace, anchors per level, flat logits, flat deltas). The top-n
        counts default to the config's (test-time) ones; training passes its own."""
        cfg = self.config
        anchors = self.anchors(features, padded_size)
        logits, deltas = self.head(features)
        logits, deltas = flatten_head_outputs(logits, deltas)  # (B, A), (B, A, 4)
        all_anchors = torch.cat(anchors)
        levels = torch.cat([torch.full((len(a),), i, device=a.device) for i, a in enumerate(anchors)])
        traces = []
        for image_logits, image_deltas, size in zip(logits.detach(), deltas.detach(), image_sizes):
            boxes = decode_boxes(image_deltas, all_anchors, RPN_DELTA_WEIGHTS)
            traces.append(select_proposals(boxes, image_logits, levels, size, pre_nms_top_n or cfg.rpn_pre_nms_top_n,
                                           post_nms_top_n or cfg.rpn_post_nms_top_n, cfg.rpn_nms_thresh,
                                           cfg.rpn_score_thresh, cfg.rpn_min_size, self.fast))
        return traces, anchors, logits, deltas


# --------------------------------------------------------------------------- detector head
class TwoMLPHead(nn.Module):
    """The box head: two fully connected layers on the pooled RoI features (fc6, fc7)."""

    def __init__(self, in_features: int, representation_size: int):
        super().__init__()
        self.fc6 = nn.Linear(in_features, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc7(F.relu(self.fc6(pooled.flatten(1)))))  # (K, C, P, P) -> (K, R)


class FastRCNNPredictor(nn.Module):
    """Sibling outputs: class scores over K+1 classes and per-class box deltas."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.cls_score = nn.Linear(in_features, num_classes)
        self.bbox_pred = nn.Linear(in_features, num_classes * 4)

    def forward(self, x: torch.Tensor):
        return self.cls_score(x), self.bbox_pred(x)


class RoIHeads(nn.Module):
    def __init__(self, config: DetectorConfig, box_roi_pool: nn.Module, in_channels: int):
        super().__init__()
        self.config = config
        self.box_roi_pool = box_roi_pool
        self.box_head = TwoMLPHead(in_channels * config.pool_size ** 2, config.representation_size)
        self.box_predictor = FastRCNNPredictor(config.representation_size, config.num_classes)
        self.fast = False

    def forward(self, features: dict, proposals: list[torch.Tensor], image_sizes):
        pooled = self.box_roi_pool(features, proposals, image_sizes)  # (sum K, C, P, P)
        return self.box_predictor(self.box_head(pooled))

    def postprocess(self, class_logits, box_deltas, proposals, image_size):
        """One image: softmax, per-class boxes, clip, drop background / low score / empty, per-class
        NMS, keep the best `detections_per_img`. -> boxes (D, 4), scores (D,), labels (D,)."""
        cfg = self.config
        boxes = clip_boxes(decode_boxes(box_deltas, proposals, BOX_DELTA_WEIGHTS), image_size)
        boxes = boxes.reshape(len(proposals), -1, 4)[:, 1:].reshape(-1, 4)  # (K * classes, 4)
        scores = F.softmax(class_logits, -1)[:, 1:].reshape(-1)
        labels = torch.arange(1, cfg.num_classes, device=boxes.device).repeat(len(proposals))
        keep = torch.where(scores > cfg.box_score_thresh)[0]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = keep_big_boxes(boxes, 1e-2)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = batched_nms_kernel(self.fast)(boxes, scores, labels, cfg.box_nms_thresh)[:cfg.detections_per_img]
        return boxes[keep], scores[keep], labels[keep]


# --------------------------------------------------------------------------- backbones
class TinyBackbone(nn.Module):
    """A small VGG-like conv net (3x3 convs, BN, ReLU) with stride 8, for the self-trained models.
    Returns {"0": (B, C, H/8, W/8)} like torchvision's detection backbones."""

    def __init__(self, channels=(16, 32, 64)):
        super().__init__()
        layers, previous = [], 3
        for width in channels:  # each stage: stride-2 conv, then a stride-1 conv
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            previous = width
        layers += [nn.Conv2d(previous, previous, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(previous),
                   nn.ReLU(inplace=True)]  # widens the receptive field for the largest objects
        self.body = nn.Sequential(*layers)
        self.out_channels = previous
        self.stride = 2 ** len(channels)

    def forward(self, images: torch.Tensor) -> dict:
        return OrderedDict([("0", self.body(images))])


def make_backbone(config: DetectorConfig) -> nn.Module:
    from torchvision.models.detection import backbone_utils
    from torchvision.ops import FrozenBatchNorm2d

    if config.backbone == "tiny":
        return TinyBackbone(config.tiny_channels)
    if config.backbone == "mobilenet_v3_large_fpn":
        return backbone_utils.mobilenet_backbone(backbone_name="mobilenet_v3_large", weights=None, fpn=True,
                                                 norm_layer=FrozenBatchNorm2d, trainable_layers=0)
    if config.backbone == "resnet50_fpn":
        return backbone_utils.resnet_fpn_backbone(backbone_name="resnet50", weights=None,
                                                  norm_layer=FrozenBatchNorm2d, trainable_layers=0)
    raise ValueError(f"Unknown backbone {config.backbone!r}")


# --------------------------------------------------------------------------- the detector
@dataclass
class Detections:
    """One image's result, boxes in the input image's pixels, plus what happened inside."""

    boxes: torch.Tensor  # (D, 4)
    scores: torch.Tensor  # (D,)
    labels: torch.Tensor  # (D,) category indices
    proposals: ProposalTrace | None = None  # in input pixels
    anchors: list[torch.Tensor] = field(default_factory=list)  # per level, in input pixels
    feature_sizes: list[tuple[int, int]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    image_size: tuple[int, int] = (0, 0)  # (H, W) of the input image
    scale: float = 1.0  # input-image pixels per pixel of the resized image the network saw


def preprocess(images: list[torch.Tensor], cfg: DetectorConfig):
    """Normalise, resize (shorter side -> min_size, longer <= max_size), pad to a multiple of
    `size_divisible`. images: list of (3, H, W) in [0, 1] -> (B, 3, H', W'), resized sizes."""
    mean = torch.tensor(cfg.image_mean, device=images[0].device)[:, None, None]
    std = torch.tensor(cfg.image_std, device=images[0].device)[:, None, None]
    resized = []
    for image in images:
        scale = min(cfg.min_size / min(image.shape[-2:]), cfg.max_size / max(image.shape[-2:]))
        resized.append(F.interpolate(((image - mean) / std)[None], scale_factor=scale, mode="bilinear",
                                     recompute_scale_factor=True, align_corners=False)[0])
    sizes = [tuple(r.shape[-2:]) for r in resized]
    div = cfg.size_divisible
    padded_h = math.ceil(max(s[0] for s in sizes) / div) * div
    padded_w = math.ceil(max(s[1] for s in sizes) / div) * div
    batch = resized[0].new_zeros((len(resized), 3, padded_h, padded_w))
    for canvas, image in zip(batch, resized):
        canvas[:, :image.shape[1], :image.shape[2]] = image
    return batch, sizes


class FasterRCNN(nn.Module):
    """Backbone -> RPN -> RoI pooling -> box head (§3), with torchvision's parameter names."""

    def __init__(self, config: DetectorConfig):
        super().__init__()
        self.config = config
        self.backbone = make_backbone(config)
        channels = self.backbone.out_channels
        self.rpn = RegionProposalNetwork(config, channels)
        if config.backbone == "tiny":
            pool = RoIPool("0", config.pool_size, 1.0 / self.backbone.stride)
        else:
            from torchvision.ops import MultiScaleRoIAlign
            pool = MultiScaleRoIAlign(["0", "1", "2", "3"], config.pool_size, sampling_ratio=2)
        self.roi_heads = RoIHeads(config, pool, channels)

    def use_fast_kernels(self, fast: bool = True) -> "FasterRCNN":
        """NMS and RoI pooling: ours (readable, the default) or torchvision's C++ kernels, which
        compute the same thing (tests/test_faster_rcnn.py) several times faster."""
        for module in (self.rpn, self.roi_heads, self.roi_heads.box_roi_pool):
            module.fast = fast
        return self
    def preprocess(self, images: list[torch.Tensor]):
        return preprocess(images, self.config)

    @torch.inference_mode()
    def detect(self, image: torch.Tensor) -> Detections:
        """One image (3, H, W) in [0, 1] -> Detections in its pixels, with per-stage timings."""
        clock = _Stopwatch()
        batch, sizes = self.preprocess([image])
        clock.lap("resize + normalise")
        features = self.backbone(batch)
        clock.lap(BACKBONE_STAGE)
        traces, anchors, _, _ = self.rpn(list(features.values()), batch.shape[-2:], sizes)
        clock.lap(RPN_STAGE)
        class_logits, box_deltas = self.roi_heads(features, [traces[0].boxes], sizes)
        clock.lap("RoI pooling + box head")
        boxes, scores, labels = self.roi_heads.postprocess(class_logits, box_deltas, traces[0].boxes, sizes[0])
        clock.lap("class scores, box refinement + NMS")
        ratio = torch.tensor([image.shape[2] / sizes[0][1], image.shape[1] / sizes[0][0]] * 2, device=boxes.device)
        trace = traces[0]
        return Detections(boxes * ratio, scores, labels,
                          ProposalTrace(trace.top_boxes * ratio, trace.top_scores, trace.boxes * ratio, trace.scores),
                          [a * ratio for a in anchors], [tuple(f.shape[-2:]) for f in features.values()],
                          clock.seconds, tuple(image.shape[-2:]), float(ratio[0]))


BACKBONE_STAGE, RPN_STAGE = "backbone", "RPN: anchors, objectness, proposals + NMS"  # Detections.seconds keys


class _Stopwatch:
    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        if torch.cuda.is_initialized():  # CUDA runs asynchronously: time the work, not its launch
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.seconds[name] = now - self._last
        self._last = now


# --------------------------------------------------------------------------- checkpoints
COCO_CATEGORIES = (
    "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
    "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork",
    "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
    "donut", "cake", "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet",
    "N/A", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "N/A", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)
SHAPE_CATEGORIES = ("__background__", "rectangle", "ellipse", "triangle")

CONFIGS = {
    "shapes": DetectorConfig(backbone="tiny", categories=SHAPE_CATEGORIES, anchor_sizes=((16, 32, 64),),
                             min_size=128, max_size=512, rpn_post_nms_top_n=300, representation_size=128,
                             image_mean=(0.5, 0.5, 0.5), image_std=(0.25, 0.25, 0.25)),
    # torchvision's fasterrcnn_mobilenet_v3_large_fpn: 5 scales x 3 ratios on each of 3 levels
    "mobilenet_v3_large_fpn": DetectorConfig(backbone="mobilenet_v3_large_fpn", categories=COCO_CATEGORIES,
                                             anchor_sizes=((32, 64, 128, 256, 512),) * 3, rpn_score_thresh=0.05),
    # torchvision's fasterrcnn_resnet50_fpn: one scale per level on 5 levels
    "resnet50_fpn": DetectorConfig(backbone="resnet50_fpn", categories=COCO_CATEGORIES,
                                   anchor_sizes=((32,), (64,), (128,), (256,), (512,))),
}


def _drop_batchnorm_counters(state: dict) -> dict:
    """torchvision pickles -> our layout (same names; FrozenBatchNorm2d keeps no step counter)."""
    return {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}


CHECKPOINTS = {
    "shapes": Checkpoint(
        name="Faster R-CNN (tiny, synthetic shapes)", filename="faster_rcnn_shapes.safetensors",
        sha256="6a9683810df175aead94500cb616ff92d56b52ac724394b3591900ffb3866230",
        license="MIT (trained here)", source="trained here on generated shape scenes",
        reproduce="python -m papers.train faster_rcnn", size_bytes=2_285_836, num_params=570_353,
        description="Tiny stride-8 backbone, 9 anchors, RoI pooling; 3 classes. Held-out mAP: "
                    "results/faster-rcnn.json (shipped_map50, shipped_map_coco)"),
    "mobilenet_v3_large_fpn": Checkpoint(
        name="Faster R-CNN MobileNetV3-Large FPN (COCO)", filename="fasterrcnn_mobilenet_v3_large_fpn_coco.safetensors",
        upstream_url="https://download.pytorch.org/models/fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth",
        # full sha256 of the 77,844,807-byte file (its name carries the first 8 digits), as recorded
        # by public manifests that pin it (e.g. LibreYOLO's Faster R-CNN weights table)
        upstream_sha256="fb6a3cc702b1df54c18a44b26708cd083614211062d0c36d2ca7bf9270df3533",
        convert=_drop_batchnorm_counters, license="BSD-3-Clause (torchvision)",
        size_bytes=77_844_807, num_params=19_386_354, source="torchvision (COCO train2017, box mAP 32.8)"),
    "resnet50_fpn": Checkpoint(
        name="Faster R-CNN ResNet-50 FPN (COCO)", filename="fasterrcnn_resnet50_fpn_coco.safetensors",
        upstream_url="https://download.pytorch.org/models/fasterrcnn_resnet50_fpn_coco-258fb6c6.pth",
        # full sha256 of the 167,502,836-byte file, as recorded by several public manifests that pin it
        upstream_sha256="258fb6c638b15964ddcdd1ae0748c5eef1be9e732750120cc857feed3faac384",
        convert=_drop_batchnorm_counters, license="BSD-3-Clause (torchvision)",
        size_bytes=167_502_836, num_params=41_755_286, source="torchvision (COCO train2017, box mAP 37.0)"),
}


def build_detector(variant: str) -> FasterRCNN:
    """An untrained detector of a variant (random weights)."""
    if variant not in CONFIGS:
        raise ValueError(f"Unknown detector {variant!r}; choose one of {', '.join(CONFIGS)}")
    return FasterRCNN(CONFIGS[variant])


@cached_model
def load_detector(variant: str = "shapes", device=None) -> FasterRCNN:
    """The detector with its checkpoint's weights, in eval mode (raises WeightsUnavailable)."""
    device = device or get_device()
    state = load_state_dict(CHECKPOINTS[variant], device)
    model = build_detector(variant).to(device)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"Checkpoint does not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval().use_fast_kernels()


# --------------------------------------------------------------------------- pure functions for the demo
def image_to_tensor(rgb: np.ndarray, device=None) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1).float().div(255).to(device or "cpu")


def anchors_at(detections: Detections, level: int, x: float, y: float) -> torch.Tensor:
    """The k anchors of pyramid `level` centred at the grid cell nearest the fraction (x, y) of
    the image (both in [0, 1]) -> (k, 4) in input pixels."""
    grid_h, grid_w = detections.feature_sizes[level]
    anchors = detections.anchors[level].reshape(grid_h, grid_w, -1, 4)  # (Hf, Wf, k, 4)
    centres = (anchors[..., :2] + anchors[..., 2:]) / 2  # (Hf, Wf, k, 2)
    height, width = detections.image_size
    column = int(torch.argmin((centres[0, :, 0, 0] - x * width).abs()))
    row = int(torch.argmin((centres[:, 0, 0, 1] - y * height).abs()))
    return anchors[row, column]


def draw_boxes(rgb: np.ndarray, boxes, colour=(255, 40, 40), width: int = 2, labels=None) -> np.ndarray:
    """A copy of `rgb` (H, W, 3) uint8 with `boxes` (N, 4) outlined (and optionally labelled)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    for i, box in enumerate(torch.as_tensor(boxes).tolist()):
        draw.rectangle(box, outline=colour, width=width)
        if labels is not None:
            draw.text((box[0] + 2, box[1] + 1), str(labels[i]), fill=colour)
    return np.asarray(image)


def draw_boxes_uncropped(rgb: np.ndarray, boxes, colour=(255, 40, 40), width: int = 2,
                         margin_grey: int = 235) -> np.ndarray:
    """`draw_boxes`, on a grey margin grown so that boxes reaching past the image are drawn whole
    (a 512 px anchor on a small image); at most the image's longer side on each border."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    height, width_px = rgb.shape[:2]
    if len(boxes) == 0:
        return draw_boxes(rgb, boxes, colour, width)
    limit = max(height, width_px)
    left, top = (int(min(limit, max(0.0, math.ceil(-float(boxes[:, i].min()))))) for i in (0, 1))
    right = int(min(limit, max(0.0, math.ceil(float(boxes[:, 2].max()) - width_px))))
    bottom = int(min(limit, max(0.0, math.ceil(float(boxes[:, 3].max()) - height))))
    if left == top == right == bottom == 0:
        return draw_boxes(rgb, boxes, colour, width)
    left, top, right, bottom = (m + width for m in (left, top, right, bottom))  # room for the outline
    canvas = np.full((height + top + bottom, width_px + left + right, 3), margin_grey, np.uint8)
    canvas[top:top + height, left:left + width_px] = rgb
    return draw_boxes(canvas, boxes + torch.tensor([left, top, left, top], dtype=torch.float32), colour, width)


# --------------------------------------------------------------------------- synthetic scenes
@dataclass(frozen=True)
class SceneStyle:
    """How `synthetic_scenes` draws: object count, size and aspect-ratio ranges (in pixels)."""

    size: int = 128
    objects: tuple[int, int] = (1, 5)
    long_side: tuple[float, float] = (14, 64)
    max_aspect: float = 3.0  # longer side / shorter side, drawn log-uniformly
    min_short_side: float = 6


def _draw_scene(rng: np.random.Generator, style: SceneStyle):
    from PIL import Image, ImageDraw

    size = style.size
    top, bottom = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)  # a vertical colour gradient background
    ramp = np.linspace(0, 1, size)[:, None, None]
    background = (top * (1 - ramp) + bottom * ramp) * np.ones((1, size, 1))
    background += rng.normal(0, 0.04, (size, size, 3))
    image = Image.fromarray((np.clip(background, 0, 1) * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    boxes, labels = [], []
    for _ in range(rng.integers(style.objects[0], style.objects[1] + 1) * 4):  # tries
        if len(boxes) >= style.objects[1]:
            break
        long_side = math.exp(rng.uniform(*np.log(style.long_side)))
        aspect = math.exp(rng.uniform(-1, 1) * math.log(style.max_aspect))
        w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
        w, h = max(w, style.min_short_side), max(h, style.min_short_side)
        x1, y1 = rng.uniform(0, size - w), rng.uniform(0, size - h)
        box = np.array([x1, y1, x1 + w, y1 + h])
        if boxes and box_iou(torch.from_numpy(box[None]), torch.from_numpy(np.array(boxes))).max() > 0:
            continue  # no overlaps: every box stays exactly the visible object
        label = int(rng.integers(1, len(SHAPE_CATEGORIES)))
        mean_bg = background[int(y1):int(y1 + h), int(x1):int(x1 + w)].mean(axis=(0, 1))
        colour = tuple(int(c) for c in np.clip((mean_bg + rng.choice([-1, 1], 3) * rng.uniform(0.35, 0.6, 3)), 0, 1) * 255)
        corners = [x1, y1, x1 + w - 1, y1 + h - 1]
        if label == 1:
            draw.rectangle(corners, fill=colour)
        elif label == 2:
            draw.ellipse(corners, fill=colour)
        else:
            draw.polygon([(x1 + w / 2, y1), (x1 + w - 1, y1 + h - 1), (x1, y1 + h - 1)], fill=colour)
        boxes.append(box)
        labels.append(label)
    return np.asarray(image), np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(labels, dtype=np.int64)


def synthetic_scenes(count: int, seed: int, style: SceneStyle = SceneStyle()):
    """`count` generated scenes: a list of (image (H, W, 3) uint8, boxes (n, 4) float32 x1 y1 x2 y2,
    labels (n,) in 1..3 = rectangle, ellipse, triangle). Seeded; objects never overlap."""
    rng = np.random.default_rng(seed)
    return [_draw_scene(rng, style) for _ in range(count)]


# --------------------------------------------------------------------------- training (§3.1.2, §3.2)
RPN_POSITIVE_IOU, RPN_NEGATIVE_IOU = 0.7, 0.3  # §3.1.2
RPN_BATCH, RPN_POSITIVE_FRACTION = 256, 0.5  # §3.1.3: 256 anchors per image, up to 1:1
RPN_LAMBDA = 10.0  # Eq. 1
ROI_BATCH, ROI_POSITIVE_FRACTION, ROI_POSITIVE_IOU = 128, 0.25, 0.5  # Fast R-CNN §2.3
ROI_BACKGROUND_IOU = (0.0, 0.5)  # background RoIs: best IoU in [lo, hi) (see the deviations)
TRAIN_PRE_NMS_TOP_N, TRAIN_POST_NMS_TOP_N = 1000, 300  # proposals per image in training (see the deviations)


def match_anchors(anchors: torch.Tensor, gt_boxes: torch.Tensor, positive_iou: float, negative_iou: float):
    """§3.1.2: an anchor is positive (1) if it has the highest IoU with some ground-truth box or an
    IoU > `positive_iou` with any; negative (0) if its IoU is < `negative_iou` with all; ignored (-1)
    otherwise. -> (labels (A,), index of the best ground-truth box (A,))."""
    if len(gt_boxes) == 0:
        nothing = torch.zeros(len(anchors), dtype=torch.long, device=anchors.device)
        return nothing, nothing.clone()
    return assign_by_iou(box_iou(gt_boxes, anchors), positive_iou, negative_iou)


def assign_by_iou(iou: torch.Tensor, positive_iou: float, negative_iou: float):
    """`match_anchors` on a given (G, A) quality matrix -> (labels (A,), best ground truth (A,))."""
    labels = torch.full((iou.shape[1],), -1, dtype=torch.long, device=iou.device)
    best_iou, best_gt = iou.max(dim=0)
    labels[best_iou < negative_iou] = 0
    labels[best_iou > positive_iou] = 1
    best_for_gt = iou.max(dim=1, keepdim=True).values  # (G, 1); ties all count as highest
    highest = ((iou == best_for_gt) & (best_for_gt > 0)).any(dim=0)
    labels[highest] = 1
    return labels, best_gt


def sample_balanced(labels: torch.Tensor, batch_size: int, positive_fraction: float, generator=None):
    """Random positives (up to the fraction) and negatives filling the batch -> (pos, neg) indices."""
    def pick(candidates, count):
        order = torch.randperm(len(candidates), generator=generator)[:count]
        return candidates[order.to(candidates.device)]

    positives = pick(torch.where(labels >= 1)[0], int(batch_size * positive_fraction))
    negatives = pick(torch.where(labels == 0)[0], batch_size - len(positives))
    return positives, negatives


def rpn_losses(logits, deltas, anchors, gt_boxes, num_locations: int, generator=None):
    """Eq. 1 averaged over images: 1/N_cls sum L_cls + lambda 1/N_reg sum p* L_reg, with N_cls the
    sampled anchors, N_reg the number of anchor locations. logits (B, A), deltas (B, A, 4)."""
    cls_loss = reg_loss = 0.0
    for image_logits, image_deltas, boxes in zip(logits, deltas, gt_boxes):
        labels, best_gt = match_anchors(anchors, boxes, RPN_POSITIVE_IOU, RPN_NEGATIVE_IOU)
        positives, negatives = sample_balanced(labels, RPN_BATCH, RPN_POSITIVE_FRACTION, generator)
        sampled = torch.cat([positives, negatives])
        cls_loss = cls_loss + F.binary_cross_entropy_with_logits(
            image_logits[sampled], (labels[sampled] > 0).float(), reduction="sum") / max(len(sampled), 1)
        if len(positives):
            targets = encode_boxes(boxes[best_gt[positives]], anchors[positives], RPN_DELTA_WEIGHTS)
            reg_loss = reg_loss + RPN_LAMBDA * F.smooth_l1_loss(
                image_deltas[positives], targets, beta=1.0, reduction="sum") / num_locations
    return cls_loss / len(logits), reg_loss / len(logits)


def sample_rois(proposals: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, generator=None):
    """Fast R-CNN §2.3 for one image: the ground truth joins the proposals; up to 25 % of the RoIs
    are foreground (best IoU >= 0.5, labelled with their box's class), the rest background
    (label 0, best IoU in `ROI_BACKGROUND_IOU`); RoIs in neither range are never sampled.
    -> (rois (R, 4), class labels (R,), regression targets (R, 4))."""
    proposals = torch.cat([proposals, gt_boxes])
    iou = box_iou(gt_boxes, proposals)  # (G, P)
    best_iou, best_gt = iou.max(dim=0)
    labels = torch.where(best_iou >= ROI_POSITIVE_IOU, gt_labels[best_gt], torch.zeros_like(best_gt))
    background_low, background_high = ROI_BACKGROUND_IOU
    labels[(best_iou < background_low) | ((best_iou >= background_high) & (best_iou < ROI_POSITIVE_IOU))] = -1
    positives, negatives = sample_balanced(labels, ROI_BATCH, ROI_POSITIVE_FRACTION, generator)
    sampled = torch.cat([positives, negatives])
    labels = labels[sampled]
    targets = encode_boxes(gt_boxes[best_gt[sampled]], proposals[sampled], BOX_DELTA_WEIGHTS)
    return proposals[sampled], labels, targets


def detector_losses(model: FasterRCNN, images: list[torch.Tensor], gt_boxes, gt_labels, generator=None) -> dict:
    """Approximate joint training (§3.2 ii): one forward pass trains the RPN and the detector;
    proposals are treated as fixed boxes (no gradient through their coordinates)."""
    batch, sizes = model.preprocess(images)
    scale = sizes[0][0] / images[0].shape[1]  # the same for every image of one size
    gt_boxes = [b * scale for b in gt_boxes]
    features = model.backbone(batch)
    maps = list(features.values())
    traces, anchors, logits, deltas = model.rpn(maps, batch.shape[-2:], sizes, TRAIN_PRE_NMS_TOP_N, TRAIN_POST_NMS_TOP_N)
    num_locations = sum(m.shape[-2] * m.shape[-1] for m in maps)
    rpn_cls, rpn_reg = rpn_losses(logits, deltas, torch.cat(anchors), gt_boxes, num_locations, generator)
    rois, labels, targets = zip(*(sample_rois(t.boxes, b, l, generator)
                                  for t, b, l in zip(traces, gt_boxes, gt_labels)))
    class_logits, box_deltas = model.roi_heads(features, list(rois), sizes)
    classifier, box_regression = box_head_losses(class_logits, box_deltas, torch.cat(labels), torch.cat(targets))
    return {"rpn_objectness": rpn_cls, "rpn_box": rpn_reg, "classifier": classifier, "box_regression": box_regression}


def box_head_losses(class_logits: torch.Tensor, box_deltas: torch.Tensor, labels: torch.Tensor,
                    targets: torch.Tensor):
    """Fast R-CNN's multi-task loss (its Eq. 1, lambda = 1) averaged over the R sampled RoIs:
    1/R sum [L_cls(p, u) + [u >= 1] L_loc(t^u, v)], with L_cls the log loss of the true class u
    and L_loc the smooth-L1 (beta 1) between the deltas predicted *for class u* and the targets.
    class_logits (R, K+1), box_deltas (R, 4(K+1)), labels (R,), targets (R, 4) -> (cls, loc)."""
    foreground = torch.where(labels > 0)[0]
    class_deltas = box_deltas.reshape(len(labels), -1, 4)[foreground, labels[foreground]]  # (F, 4)
    box_reg = F.smooth_l1_loss(class_deltas, targets[foreground], beta=1.0, reduction="sum") / len(labels)
    return F.cross_entropy(class_logits, labels), box_reg


# --------------------------------------------------------------------------- evaluation
def average_precision(scores, is_true_positive, num_ground_truth: int) -> float:
    """Area under the precision/recall curve (all-point interpolation, as PASCAL VOC since 2010)."""
    if num_ground_truth == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(is_true_positive, dtype=float)[order]
    recall = np.concatenate([[0], np.cumsum(hits) / num_ground_truth])
    precision = np.concatenate([[1], np.cumsum(hits) / np.arange(1, len(hits) + 1)])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope
    return float(np.sum(np.diff(recall) * precision[1:]))


def mean_average_precision(predictions, ground_truth, iou_threshold: float, num_classes: int) -> float:
    """mAP over classes 1..num_classes-1. predictions: per image (boxes, scores, labels);
    ground_truth: per image (boxes, labels). Each ground-truth box matches one detection at most."""
    aps = []
    for cls in range(1, num_classes):
        scores, hits, total = [], [], 0
        for (boxes, box_scores, labels), (gt, gt_labels) in zip(predictions, ground_truth):
            gt = torch.as_tensor(gt)[torch.as_tensor(gt_labels) == cls]
            total += len(gt)
            mine = labels == cls
            taken = torch.zeros(len(gt), dtype=torch.bool)
            for box, score in sorted(zip(boxes[mine], box_scores[mine].tolist()), key=lambda p: -p[1]):
                iou = box_iou(box[None], gt)[0] if len(gt) else torch.zeros(0)
                best = int(iou.argmax()) if len(iou) else -1
                hit = best >= 0 and iou[best] >= iou_threshold and not taken[best]
                if hit:
                    taken[best] = True
                scores.append(score)
                hits.append(hit)
        aps.append(average_precision(scores, hits, total))
    return float(np.nanmean(aps))


def evaluate_detector(model: FasterRCNN, scenes) -> dict:
    predictions = []
    for image, _, _ in scenes:
        found = model.detect(image_to_tensor(image, next(model.parameters()).device))
        predictions.append((found.boxes.cpu(), found.scores.cpu(), found.labels.cpu()))
    truth = [(boxes, labels) for _, boxes, labels in scenes]
    classes = model.config.num_classes
    coco = [mean_average_precision(predictions, truth, t, classes) for t in np.arange(0.5, 0.96, 0.05)]
    return {"mAP@0.5": round(coco[0], 4), "mAP@0.75": round(coco[5], 4), "mAP@[.5:.95]": round(float(np.mean(coco)), 4)}


TRAIN_SEED, TEST_SEED, TRAIN_SCENES, TEST_SCENES = 0, 1, 2000, 200
TRAIN_STEPS, TRAIN_BATCH, LEARNING_RATE = 400, 8, 2e-3


def scene_batches(scenes, batch_size: int, steps: int, seed: int):
    """Random mini-batches of scenes as (images (3, H, W) list, boxes list, labels list)."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        chosen = [scenes[i] for i in rng.choice(len(scenes), batch_size, replace=False)]
        yield ([image_to_tensor(img) for img, _, _ in chosen], [torch.from_numpy(b) for _, b, _ in chosen],
               [torch.from_numpy(l) for _, _, l in chosen])


def fit(model: nn.Module, loss_fn, scenes, steps: int, seed: int, log_every: int = 50) -> None:
    """AdamW + cosine decay over `steps` mini-batches; `loss_fn(model, images, boxes, labels, gen)`
    returns a dict of losses that are summed."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, LEARNING_RATE, total_steps=steps, pct_start=0.1)
    model.train()
    for step, (images, boxes, labels) in enumerate(scene_batches(scenes, TRAIN_BATCH, steps, seed)):
        losses = loss_fn(model, images, boxes, labels, generator)
        optimiser.zero_grad()
        sum(losses.values()).backward()
        optimiser.step()
        schedule.step()
        if step % log_every == 0 or step == steps - 1:
            print(f"step {step}: " + ", ".join(f"{k} {float(v.detach()):.3f}" for k, v in losses.items()), flush=True)
    model.eval()


def train(variant: str | None, out_dir: Path) -> dict:
    """`python -m papers.train faster_rcnn`: the tiny shapes detector, a few CPU minutes."""
    from safetensors.torch import save_file

    if variant not in (None, "shapes"):
        raise ValueError("Only the 'shapes' detector is trained here; the COCO ones come from torchvision.")
    torch.manual_seed(TRAIN_SEED)
    model = build_detector("shapes").use_fast_kernels()
    fit(model, detector_losses, synthetic_scenes(TRAIN_SCENES, TRAIN_SEED), TRAIN_STEPS, TRAIN_SEED)
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(state, str(Path(out_dir) / CHECKPOINTS["shapes"].filename))
    metrics = evaluate_detector(model, synthetic_scenes(TEST_SCENES, TEST_SEED))
    return {"test_scenes": TEST_SCENES, **metrics, "params": sum(v.numel() for v in state.values())}


# ---- experiments behind the claims
# The shipped shapes detector is only evaluated here (training it takes several CPU minutes a
# seed), on held-out scenes drawn with seed EXPERIMENT_SCENE_SEED + seed (never TRAIN_SEED or
# TEST_SEED): a few seconds a seed, so every claim is `--check`-able.
EXPERIMENT_SCENE_SEED = 100
EXPERIMENT_SCENES = {False: 50, True: 10}
PROPOSALS = 300  # proposals per image compared (the paper's test-time number, §3.3 and Fig. 2)
PROPOSAL_COUNTS = (10, 20, 50, 100, 200)  # recall against the number of proposals (and PROPOSALS)
RECALL_IOU = 0.7
SEGMENT_SCALES = (100, 300, 1000)  # Felzenszwalb-Huttenlocher "k", as Selective Search's initial regions


def segment_proposals(rgb: np.ndarray, count: int = PROPOSALS, seed: int = 0) -> torch.Tensor:
    """A non-learned proposal method: the boxes of Felzenszwalb-Huttenlocher segments at several
    scales (the initial regions Selective Search groups), duplicates removed, up to `count` in
    random order (Selective Search's ranking is pseudo-random too). -> (N, 4) x1 y1 x2 y2."""
    from scipy.ndimage import find_objects
    from skimage.segmentation import felzenszwalb

    boxes = set()
    for k in SEGMENT_SCALES:
        for rows, cols in filter(None, find_objects(felzenszwalb(rgb, scale=k, sigma=0.8, min_size=20) + 1)):
            boxes.add((cols.start, rows.start, cols.stop, rows.stop))
    boxes = np.array(sorted(boxes), dtype=np.float32).reshape(-1, 4)
    order = np.random.default_rng(seed).permutation(len(boxes))[:count]
    return torch.from_numpy(boxes[order])


def recall_at(proposals: list[torch.Tensor], truth: list[np.ndarray], iou: float = RECALL_IOU) -> float:
    """Fraction of ground-truth boxes covered by some proposal with IoU >= `iou`."""
    found = total = 0
    for boxes, gt in zip(proposals, truth):
        total += len(gt)
        if len(gt) and len(boxes):
            found += int((box_iou(torch.as_tensor(gt), boxes.float()).max(dim=1).values >= iou).sum())
    return found / max(total, 1)


_CACHE: dict = {}


def _shipped_trial(seed: int, quick: bool) -> dict:
    """The shipped detector on held-out scenes: mAP, and its RPN's proposals vs two non-learned ones."""
    key = (seed, quick)
    if key in _CACHE:
        return _CACHE[key]
    scenes = synthetic_scenes(EXPERIMENT_SCENES[quick], EXPERIMENT_SCENE_SEED + seed)
    model = load_detector("shapes", torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed)
    predictions, proposals = [], {"ours": [], "random_anchors": [], "segments": []}
    for n, (image, _, _) in enumerate(scenes):
        found = model.detect(image_to_tensor(image))
        predictions.append((found.boxes, found.scores, found.labels))
        proposals["ours"].append(found.proposals.boxes[:PROPOSALS])
        anchors = torch.cat(found.anchors)  # the RPN's own reference boxes, without its scores or regression
        proposals["random_anchors"].append(anchors[torch.randperm(len(anchors), generator=generator)[:PROPOSALS]])
        proposals["segments"].append(segment_proposals(image, PROPOSALS, seed * 10_000 + n))
    truth = [(boxes, labels) for _, boxes, labels in scenes]
    classes = model.config.num_classes
    coco = [mean_average_precision(predictions, truth, t, classes) for t in np.arange(0.5, 0.96, 0.05)]
    result = {"mAP@0.5": 100 * coco[0], "mAP@[.5:.95]": 100 * float(np.mean(coco)),
              "recall": {k: 100 * recall_at(v, [b for b, _ in truth]) for k, v in proposals.items()},
              "average_recall": {k: 100 * float(np.mean([recall_at(v, [b for b, _ in truth], t)
                                                         for t in np.arange(0.5, 0.96, 0.05)]))
                                 for k, v in proposals.items()},
              "count": {k: float(np.mean([len(b) for b in v])) for k, v in proposals.items()},
              # each method's first n boxes: the RPN's best n by objectness; the other two are in
              # random order, so their first n are a random n of the same candidates
              "recall_by_count": {n: {k: 100 * recall_at([b[:n] for b in v], [b for b, _ in truth])
                                      for k, v in proposals.items()} for n in PROPOSAL_COUNTS}}
    _CACHE[key] = result
    return result


RPN_ABLATIONS = {  # Table 2's test-time ablations of the RPN: name -> (which proposals, how many)
    "rpn_100": ("full", 100), "no_cls_300": ("no_cls", PROPOSALS), "no_cls_100": ("no_cls", 100),
    "no_reg_300": ("no_reg", PROPOSALS)}
# The paper's figures for them (Table 2: ZF, PASCAL VOC 2007 test, mAP %, a Fast R-CNN detector
# trained on Selective Search proposals, tested on RPN+ZF proposals); "ours" = RPN, 300.
TABLE_2 = {"ours": 56.8, "rpn_100": 55.1, "no_cls_300": 51.4, "no_cls_100": 44.6, "no_reg_300": 52.1}


@torch.inference_mode()
def detect_with_ablated_rpn(model: FasterRCNN, image: torch.Tensor, mode: str = "full", count: int = PROPOSALS,
                            generator: torch.Generator | None = None):
    """One image through the detector with the RPN's test-time ablations of §4.1 (Table 2):
    "full" = the RPN's proposals (objectness ranking, NMS, the best `count`); "no_cls" = the
    cls layer removed: no ranking and no NMS, `count` of the regressed anchors drawn at random;
    "no_reg" = the reg layer removed: the anchors themselves, ranked by objectness, NMS, the best
    `count`. -> (boxes (D, 4) in the image's pixels, scores (D,), labels (D,))."""
    cfg, rpn = model.config, model.rpn
    batch, sizes = model.preprocess([image])
    features = model.backbone(batch)
    maps = list(features.values())
    anchors = rpn.anchors(maps, batch.shape[-2:])
    logits, deltas = flatten_head_outputs(*rpn.head(maps))  # (1, A), (1, A, 4)
    all_anchors = torch.cat(anchors)
    levels = torch.cat([torch.full((len(a),), i, device=a.device) for i, a in enumerate(anchors)])
    if mode == "no_cls":
        boxes = clip_boxes(decode_boxes(deltas[0], all_anchors, RPN_DELTA_WEIGHTS), sizes[0])
        boxes = boxes[keep_big_boxes(boxes, cfg.rpn_min_size)]
        proposals = boxes[torch.randperm(len(boxes), generator=generator)[:count].to(boxes.device)]
    elif mode in ("full", "no_reg"):
        boxes = decode_boxes(deltas[0], all_anchors, RPN_DELTA_WEIGHTS) if mode == "full" else all_anchors
        proposals = select_proposals(boxes, logits[0], levels, sizes[0], cfg.rpn_pre_nms_top_n, count,
                                     cfg.rpn_nms_thresh, cfg.rpn_score_thresh, cfg.rpn_min_size, rpn.fast).boxes
    else:
        raise ValueError(f"Unknown RPN ablation {mode!r}")
    class_logits, box_deltas = model.roi_heads(features, [proposals], sizes)
    boxes, scores, labels = model.roi_heads.postprocess(class_logits, box_deltas, proposals, sizes[0])
    ratio = torch.tensor([image.shape[2] / sizes[0][1], image.shape[1] / sizes[0][0]] * 2, device=boxes.device)
    return boxes * ratio, scores, labels


def _ablation_trial(seed: int, quick: bool) -> dict:
    """mAP@0.5 (%) of the shipped detector on the held-out scenes with each RPN ablation."""
    key = ("ablation", seed, quick)
    if key not in _CACHE:
        scenes = synthetic_scenes(EXPERIMENT_SCENES[quick], EXPERIMENT_SCENE_SEED + seed)
        model = load_detector("shapes", torch.device("cpu"))
        generator = torch.Generator().manual_seed(seed)
        truth = [(boxes, labels) for _, boxes, labels in scenes]
        result = {}
        for name, (mode, count) in RPN_ABLATIONS.items():
            predictions = [detect_with_ablated_rpn(model, image_to_tensor(image), mode, count, generator)
                           for image, _, _ in scenes]
            result[name] = 100 * mean_average_precision(predictions, truth, 0.5, model.config.num_classes)
        _CACHE[key] = result
    return _CACHE[key]


def _experiments():
    from papers.results import Experiment, Paper

    scenes = f"{EXPERIMENT_SCENES[False]} held-out generated scenes per seed"
    labels = {"ours": "RPN proposals (learned)", "random_anchors": "anchors picked at random (not learned)",
              "segments": "Felzenszwalb segment boxes (not learned, Selective Search's initial regions)"}
    return [
        Experiment("shipped_map50", "Shipped tiny detector: mean average precision on held-out shapes (" + scenes + ")",
                   "mAP@0.5 (%, 3 classes)", lambda s, q: {"ours": _shipped_trial(s, q)["mAP@0.5"]}, seeds=5,
                   higher_is_better=True, checkable=True, tolerance=0.5, digits=1,
                   paper=Paper(69.9, "Table 3", "VGG-16, PASCAL VOC 2007 test, trained on VOC 2007 trainval; "
                                                "ours: a 570k-parameter detector on generated shapes")),
        Experiment("shipped_map_coco", "Shipped tiny detector: COCO-style mAP, IoU 0.5:0.95 (" + scenes + ")",
                   "mAP@[.5:.95] (%, 3 classes)", lambda s, q: {"ours": _shipped_trial(s, q)["mAP@[.5:.95]"]},
                   seeds=5, higher_is_better=True, checkable=True, tolerance=0.5, digits=1,
                   paper=Paper(None, "", "the paper reports VOC mAP@0.5 only")),
        Experiment("proposal_recall", f"Recall of the ground-truth boxes by {PROPOSALS} proposals per image at IoU "
                   f"{RECALL_IOU:g}: the learned RPN vs two non-learned proposal methods (" + scenes + ")",
                   f"% of objects with a proposal at IoU >= {RECALL_IOU:g}",
                   lambda s, q: dict(_shipped_trial(s, q)["recall"]), seeds=5, higher_is_better=True,
                   checkable=True, tolerance=0.5, digits=1, labels=labels,
                   paper=Paper(None, "Fig. 2, §4.1", "VOC 2007 test, 300 proposals: RPN's recall holds up as the "
                                                     "IoU rises while Selective Search's and EdgeBoxes' fall")),
        *[Experiment(f"proposal_recall_at_{n}", f"Recall of the ground-truth boxes by {n} proposals per image at "
                     f"IoU {RECALL_IOU:g} (the curve against the number of proposals, with proposal_recall at "
                     f"{PROPOSALS}): the learned RPN's best {n} vs {n} from each non-learned method (" + scenes + ")",
                     f"% of objects with a proposal at IoU >= {RECALL_IOU:g}",
                     lambda s, q, n=n: dict(_shipped_trial(s, q)["recall_by_count"][n]), seeds=5,
                     higher_is_better=True, checkable=True, tolerance=0.5, digits=1, labels=labels,
                     paper=Paper(None, "Fig. 2, Table 2", "VOC 2007 test: RPN's recall and mAP hold up as its "
                                                         "proposals drop from 2000 to 300; Selective Search's and "
                                                         "EdgeBoxes' fall faster"))
          for n in PROPOSAL_COUNTS],
        Experiment("rpn_ablation_map50", f"The RPN's two outputs at test time (Table 2's ablation): held-out mAP@0.5 "
                   f"of the shipped detector with its RPN's {PROPOSALS} proposals vs the same detector with the cls "
                   "layer removed (no ranking, no NMS: regressed anchors drawn at random) or the reg layer removed "
                   "(the anchors themselves, ranked and NMS'd), and with fewer proposals (" + scenes + ")",
                   "mAP@0.5 (%, 3 classes)",
                   lambda s, q: {"ours": _shipped_trial(s, q)["mAP@0.5"], **_ablation_trial(s, q)}, seeds=5,
                   higher_is_better=True, checkable=True, tolerance=0.5, digits=1,
                   labels={"ours": f"RPN, {PROPOSALS} proposals", "rpn_100": "RPN, 100 proposals",
                           "no_cls_300": f"no cls, {PROPOSALS} random", "no_cls_100": "no cls, 100 random",
                           "no_reg_300": f"no reg (anchors), {PROPOSALS}"},
                   paper=Paper(TABLE_2["ours"], "Table 2", "ZF, VOC 2007 test, detector trained on Selective "
                               "Search proposals: " + ", ".join(f"{k} {v:g}" for k, v in TABLE_2.items())
                               + " (ours: the detector was trained with its own RPN's proposals)")),
        Experiment("proposal_average_recall", f"Average recall of {PROPOSALS} proposals per image over IoU "
                   "0.5:0.95 (how tightly they fit): the learned RPN vs two non-learned methods (" + scenes + ")",
                   "AR (%, IoU 0.5:0.95)", lambda s, q: dict(_shipped_trial(s, q)["average_recall"]), seeds=5,
                   higher_is_better=True, checkable=True, tolerance=0.5, digits=1, labels=labels,
                   paper=Paper(None, "Fig. 2", "recall against IoU, VOC 2007 test, 300 proposals")),
    ]


EXPERIMENTS = _experiments()
