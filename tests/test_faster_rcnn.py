"""Faster R-CNN: our NMS, RoI pooling, anchors, box coding and the whole detector against
torchvision (random weights), the self-trained checkpoint, and the tab's handler."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torchvision
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

from papers import checkpoints, faster_rcnn as frcnn

torch.set_num_threads(1)


def random_boxes(n, generator, extent=100.0, max_size=60.0):
    corners = torch.rand(n, 2, generator=generator) * extent
    return torch.cat([corners, corners + torch.rand(n, 2, generator=generator) * max_size], dim=1)


@pytest.mark.parametrize("n, threshold", [(0, 0.5), (1, 0.5), (200, 0.3), (800, 0.7)])
def test_nms_equals_torchvision(n, threshold):
    gen = torch.Generator().manual_seed(n)
    boxes, scores = random_boxes(n, gen), torch.rand(n, generator=gen)
    assert torch.equal(frcnn.nms(boxes, scores, threshold), torchvision.ops.nms(boxes, scores, threshold))


def test_nms_keeps_empty_boxes_like_torchvision():
    boxes = torch.tensor([[0, 0, 10, 10], [5, 5, 5, 5], [5, 5, 5, 5], [1, 1, 10, 10.]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    assert torch.equal(frcnn.nms(boxes, scores, 0.5), torchvision.ops.nms(boxes, scores, 0.5))


def test_batched_nms_equals_torchvision():
    gen = torch.Generator().manual_seed(1)
    boxes, scores = random_boxes(600, gen), torch.rand(600, generator=gen)
    groups = torch.randint(0, 4, (600,), generator=gen)
    assert torch.equal(frcnn.batched_nms(boxes, scores, groups, 0.5),
                       torchvision.ops.batched_nms(boxes, scores, groups, 0.5))


@pytest.mark.parametrize("output_size, scale", [(7, 1 / 8), ((3, 5), 0.5), (2, 1.0)])
def test_roi_pool_equals_torchvision(output_size, scale):
    gen = torch.Generator().manual_seed(2)
    features = torch.randn(2, 5, 20, 24, generator=gen)
    boxes = random_boxes(60, gen, extent=240, max_size=150) - 40  # some cross or leave the map
    rois = torch.cat([torch.randint(0, 2, (60, 1), generator=gen).float(), boxes], dim=1)
    ours = frcnn.roi_pool(features, rois, output_size, scale)
    assert torch.equal(ours, torchvision.ops.roi_pool(features, rois, output_size, scale))


def test_anchors_equal_torchvision_anchor_generator():
    sizes, ratios = ((32, 64, 128, 256, 512),) * 2, ((0.5, 1.0, 2.0),) * 2
    maps = [torch.zeros(1, 8, 25, 34), torch.zeros(1, 8, 13, 17)]
    reference = AnchorGenerator(sizes, ratios)(ImageList(torch.zeros(1, 3, 800, 1088), [(800, 1088)]), maps)[0]
    ours = torch.cat([frcnn.grid_anchors(frcnn.cell_anchors(s, ratios[0]), m.shape[-2:], (800 // m.shape[-2], 1088 // m.shape[-1]))
                      for s, m in zip(sizes, maps)])
    assert torch.equal(ours, reference)


def test_box_coding_equals_torchvision_and_inverts():
    gen = torch.Generator().manual_seed(3)
    anchors, targets = random_boxes(50, gen), random_boxes(50, gen)
    anchors[:, 2:] += 5  # sizes >= 5 px: no log-ratio reaches the exp clamp (log 1000/16)
    targets[:, 2:] += 5
    coder = det_utils.BoxCoder(frcnn.BOX_DELTA_WEIGHTS)
    deltas = frcnn.encode_boxes(targets, anchors, frcnn.BOX_DELTA_WEIGHTS)
    torch.testing.assert_close(deltas, coder.encode_single(targets, anchors))
    torch.testing.assert_close(frcnn.decode_boxes(deltas, anchors, frcnn.BOX_DELTA_WEIGHTS), targets, atol=1e-3, rtol=0)
    torch.testing.assert_close(frcnn.decode_boxes(deltas, anchors, frcnn.BOX_DELTA_WEIGHTS),
                               coder.decode_single(deltas, anchors))


SMALL = dict(min_size=224, max_size=320)
EVERY_DETECTION = 1000  # no cut at 100: random weights give many (nearly) tied scores


@pytest.fixture(scope="module")
def random_mobilenet():
    """torchvision's fasterrcnn_mobilenet_v3_large_fpn with random weights, scores spread so that
    detections pass the 0.05 threshold."""
    torch.manual_seed(0)
    reference = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_fpn(
        weights=None, weights_backbone=None, box_detections_per_img=EVERY_DETECTION, **SMALL).eval()
    with torch.no_grad():
        reference.roi_heads.box_predictor.cls_score.weight.normal_(0, 3.0)
        reference.rpn.head.cls_logits.weight.normal_(0, 0.5)
    return reference


def assert_same_detections(reference, variant, image, **config_changes):
    """Our detector of `variant` with `reference`'s (random) weights gives torchvision's detections."""
    config = replace(frcnn.CONFIGS[variant], detections_per_img=EVERY_DETECTION, **config_changes)
    ours = frcnn.FasterRCNN(config).eval()
    ours.load_state_dict(frcnn._drop_batchnorm_counters(reference.state_dict()), strict=True)
    with torch.no_grad():
        expected = reference([image])[0]
    found = ours.detect(image)
    assert len(expected["boxes"]) > 10 and len(found.boxes) == len(expected["boxes"])
    assert torch.equal(torch.sort(found.labels).values, torch.sort(expected["labels"]).values)
    # Pair each detection with the reference's same-class box it overlaps most (after per-class
    # NMS, any other overlaps <= 0.5), not by score order: random weights give scores 1e-7 apart.
    for label in torch.unique(found.labels):
        mine, theirs = found.labels == label, expected["labels"] == label
        match = frcnn.box_iou(found.boxes[mine], expected["boxes"][theirs]).argmax(dim=1)
        assert torch.equal(torch.sort(match).values, torch.arange(int(theirs.sum())))  # one to one
        torch.testing.assert_close(found.boxes[mine], expected["boxes"][theirs][match], atol=1e-3, rtol=0)
        torch.testing.assert_close(found.scores[mine], expected["scores"][theirs][match])
    return found


def test_detector_equals_torchvision_mobilenet_v3_fpn_on_random_weights(random_mobilenet):
    assert_same_detections(random_mobilenet, "mobilenet_v3_large_fpn", torch.rand(3, 200, 260), **SMALL)


TINY = dict(min_size=128, max_size=192)


def test_detector_equals_torchvision_resnet50_fpn_on_random_weights():
    """The ResNet-50 FPN variant (5 pyramid levels, one anchor size each, multi-scale RoIAlign)
    in a forward pass: torchvision's fasterrcnn_resnet50_fpn with random weights, including
    random batch-norm statistics (weights_backbone=None builds trainable BatchNorm2d; ours is
    frozen: the same in eval mode)."""
    torch.manual_seed(0)
    reference = torchvision.models.detection.fasterrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, box_detections_per_img=EVERY_DETECTION, **TINY).eval()
    with torch.no_grad():
        for module in reference.backbone.body.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.2, 0.6)  # keeps 16 random residual blocks from blowing up
        reference.roi_heads.box_predictor.cls_score.weight.normal_(0, 3.0)
        reference.rpn.head.cls_logits.weight.normal_(0, 0.5)
    found = assert_same_detections(reference, "resnet50_fpn", torch.rand(3, 150, 190), **TINY)
    assert len(found.anchors) == 5 and found.feature_sizes[-1] == (2, 3)  # 128 x 162 padded to 128 x 192


@pytest.fixture(scope="module")
def shapes_detector():
    return frcnn.load_detector("shapes", torch.device("cpu"))


def test_shipped_shapes_checkpoint_hash_and_size():
    ckpt = frcnn.CHECKPOINTS["shapes"]
    path = checkpoints.REPO_WEIGHTS_DIR / ckpt.filename
    assert checkpoints.sha256_file(path) == ckpt.sha256
    assert path.stat().st_size < 5_000_000


def test_shapes_detector_finds_held_out_shapes(shapes_detector):
    scenes = frcnn.synthetic_scenes(12, frcnn.TEST_SEED)
    metrics = frcnn.evaluate_detector(shapes_detector, scenes)
    assert metrics["mAP@0.5"] > 0.6, metrics


def test_learned_proposals_cover_objects_that_random_anchors_miss(shapes_detector):
    """The RPN's point (§3, Fig. 2), re-measured from the shipped checkpoint: its 300 proposals
    cover nearly every held-out object at IoU 0.7, the same anchors unscored and unrefined
    (picked at random) cover few."""
    scenes = frcnn.synthetic_scenes(8, frcnn.EXPERIMENT_SCENE_SEED)
    generator = torch.Generator().manual_seed(0)
    learned, random_anchors, truth = [], [], []
    for image, boxes, _ in scenes:
        found = shapes_detector.detect(frcnn.image_to_tensor(image))
        anchors = torch.cat(found.anchors)
        learned.append(found.proposals.boxes[:frcnn.PROPOSALS])
        random_anchors.append(anchors[torch.randperm(len(anchors), generator=generator)[:frcnn.PROPOSALS]])
        truth.append(boxes)
    assert frcnn.recall_at(learned, truth) > 0.85
    assert frcnn.recall_at(random_anchors, truth) < 0.4


def test_segment_proposals_outline_a_flat_shape():
    image = np.full((64, 64, 3), 200, np.uint8)
    image[10:30, 20:50] = (20, 40, 160)
    boxes = frcnn.segment_proposals(image, seed=0)
    assert [20, 10, 50, 30] in boxes.tolist()
    assert frcnn.recall_at([boxes], [np.array([[20.0, 10.0, 50.0, 30.0]])], iou=0.99) == 1.0
    assert frcnn.recall_at([boxes[:0]], [np.array([[20.0, 10.0, 50.0, 30.0]])]) == 0.0


def test_readable_kernels_give_the_same_detections(shapes_detector):
    image = frcnn.image_to_tensor(frcnn.synthetic_scenes(1, 5)[0][0])
    fast = shapes_detector.detect(image)
    readable = shapes_detector.use_fast_kernels(False).detect(image)
    shapes_detector.use_fast_kernels(True)
    torch.testing.assert_close(readable.boxes, fast.boxes)
    assert torch.equal(readable.labels, fast.labels)


def test_rpn_matching_follows_section_3_1_2():
    anchors = torch.tensor([[0, 0, 10, 10], [0, 0, 9, 10], [20, 20, 30, 30], [50, 50, 60, 60.]])
    gt = torch.tensor([[0, 0, 10, 10], [49, 49, 70, 70.]])
    labels, best = frcnn.match_anchors(anchors, gt, 0.7, 0.3)
    # IoU 1 and 0.9 -> positive; IoU 0 -> negative; the second box's best anchor (IoU 0.23) -> positive
    assert labels.tolist() == [1, 1, 0, 1] and best[3] == 1


def test_coco_weights_load_through_the_pipeline(tmp_path, monkeypatch, random_mobilenet):
    """An upstream-format file (a torchvision pickle) in GALLERY_WEIGHTS_DIR is hash-checked,
    converted to safetensors, cached, and loads into our detector (random weights stand in)."""
    reference = random_mobilenet
    ckpt = frcnn.CHECKPOINTS["mobilenet_v3_large_fpn"]
    upstream = tmp_path / ckpt.upstream_filename
    torch.save(reference.state_dict(), upstream)
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(tmp_path))
    monkeypatch.setenv("GALLERY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(frcnn.CHECKPOINTS, "mobilenet_v3_large_fpn",
                        replace(ckpt, upstream_sha256=checkpoints.sha256_file(upstream)))
    frcnn.load_detector.cache_clear()
    try:
        model = frcnn.load_detector("mobilenet_v3_large_fpn", torch.device("cpu"))
        assert torch.equal(model.rpn.head.cls_logits.weight, reference.rpn.head.cls_logits.weight)
        assert (tmp_path / "cache" / ckpt.filename).is_file()
    finally:
        frcnn.load_detector.cache_clear()


def test_wrong_upstream_hash_is_refused(tmp_path, monkeypatch):
    ckpt = frcnn.CHECKPOINTS["resnet50_fpn"]
    torch.save({"x": torch.zeros(1)}, tmp_path / ckpt.upstream_filename)
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(checkpoints.WeightsUnavailable, match="sha256 mismatch"):
        checkpoints.load_state_dict(ckpt, torch.device("cpu"))


# --------------------------------------------------------------------------- the tab
gr = pytest.importorskip("gradio")
from demos import faster_rcnn as demo  # noqa: E402

SHAPES = next(iter(demo.MODELS))


def test_handler_on_an_example_draws_everything():
    annotated, anchors, before, after, info = demo.detect(
        demo.example_paths("shapes_1.png")[0], SHAPES, 0.5, 0.5, 0.5, 0, 50)
    image, boxes = annotated
    assert image.shape == anchors.shape == before.shape == after.shape == (256, 256, 3)
    assert len(boxes) >= 3 and any("triangle" in label for _, label in boxes)
    assert "proposals after NMS" in info and "total" in info


@pytest.mark.parametrize("value", [
    np.zeros((40, 50), np.uint8),  # grey
    np.full((40, 50, 4), 200, np.uint8),  # RGBA
    np.full((40, 50, 3), 40000, np.uint16),  # 16-bit
    np.zeros((3000, 20, 3), np.uint8),  # huge and thin
])
def test_handler_accepts_odd_images(value):
    annotated, *_ = demo.detect(value, SHAPES, 1.0, 0.0, 1.0, 2, 1)  # sliders at their extremes
    assert annotated[0].ndim == 3


@pytest.mark.parametrize("value", [None, np.zeros((1, 1, 3), np.uint8), "/nonexistent.png"])
def test_handler_rejects_bad_images_with_a_message(value):
    with pytest.raises(gr.Error):
        demo.detect(value, SHAPES, 0.5, 0.5, 0.5, 0, 50)


def test_missing_coco_weights_give_a_message(monkeypatch, tmp_path):
    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(checkpoints.urllib.request, "urlopen", offline)
    monkeypatch.setenv("GALLERY_CACHE_DIR", str(tmp_path))
    with pytest.raises(gr.Error, match="not available"):
        demo.detect(demo.example_paths("astronaut.jpg")[0], list(demo.MODELS)[1], 0.5, 0.5, 0.5, 0, 50)


def test_pyramid_slider_reaches_every_level_of_every_model():
    with gr.Blocks() as blocks:
        demo.build()
    sliders = [b for b in blocks.blocks.values() if isinstance(b, gr.Slider) and b.minimum == 0 and b.step == 1]
    assert len(sliders) == 1
    assert sliders[0].maximum == max(len(frcnn.CONFIGS[v].anchor_sizes) for v in demo.MODELS.values()) - 1 == 4


def test_resnet50_fpn_top_level_shows_its_512_px_anchors(monkeypatch):
    """The tab on ResNet-50 FPN (random weights stand in for COCO's): level 4 is reachable and
    draws the 512 px anchors, 3 of them (one scale x 3 ratios) at stride 64."""
    torch.manual_seed(0)
    model = frcnn.FasterRCNN(replace(frcnn.CONFIGS["resnet50_fpn"], min_size=256, max_size=256)).eval()
    monkeypatch.setattr(frcnn, "load_detector", lambda variant, device=None: model)
    resnet = [name for name, variant in demo.MODELS.items() if variant == "resnet50_fpn"][0]
    image = np.full((256, 256, 3), 128, np.uint8)
    _, anchors_image, _, _, info = demo.detect(image, resnet, 0.5, 0.5, 0.5, demo.MAX_LEVEL, 10)
    assert "level 4 of 0…4, scales 512 px at stride 64 px" in info
    # the 512 px anchors centred in a 256 px image are drawn whole, on a margin around it
    outline = np.argwhere((anchors_image == demo.ANCHOR_COLOUR).all(axis=2))  # (n, 2) rows, columns
    extent = outline.max(axis=0) - outline.min(axis=0) + 1
    assert anchors_image.shape[0] > 256 and anchors_image.shape[1] > 256
    assert extent.max() >= 512 * 2 ** 0.5 - 2  # the 1:2 anchor is sqrt(2) x 512 px long
    # the RPN's time is reported against the backbone's, from this image's own timings
    assert "took" in info and "the backbone's" in info


def test_recall_curve_plot_reads_every_count_from_results():
    from papers.results import value

    curve = demo.recall_curve()
    counts = (*frcnn.PROPOSAL_COUNTS, frcnn.PROPOSALS)
    assert len(curve) == 3 * len(counts)  # three methods at every count
    for label, series in curve.groupby("method"):
        assert series["proposals per image"].tolist() == list(counts)
        # the first n proposals are a subset of the first n + m: recall never falls
        assert series["recall (%)"].is_monotonic_increasing, label
    rpn = curve[curve["method"] == demo.METHODS["ours"]]
    assert rpn["recall (%)"].iloc[-1] == value(demo.SLUG, "proposal_recall")


def test_recall_by_count_takes_each_methods_first_proposals(monkeypatch):
    """recall_by_count[n] is recall_at over the first n boxes of each method (the RPN's are ranked)."""
    monkeypatch.setattr(frcnn, "EXPERIMENT_SCENES", {False: 50, True: 3})
    monkeypatch.setattr(frcnn, "_CACHE", {})
    trial = frcnn._shipped_trial(0, True)
    curve = [trial["recall_by_count"][n]["ours"] for n in frcnn.PROPOSAL_COUNTS] + [trial["recall"]["ours"]]
    assert curve == sorted(curve) and curve[0] < curve[-1]  # 10 ranked proposals miss what 300 find


def test_rpn_ablations_feed_the_box_head_what_table_2_says(shapes_detector, monkeypatch):
    """"full" is the detector's own path; "no_reg" hands it bare anchors (ranked, NMS'd);
    "no_cls" hands it `count` regressed anchors in random order (no ranking)."""
    image = frcnn.image_to_tensor(frcnn.synthetic_scenes(1, 5)[0][0])
    found = shapes_detector.detect(image)
    boxes, scores, labels = frcnn.detect_with_ablated_rpn(shapes_detector, image, "full", frcnn.PROPOSALS)
    assert torch.equal(boxes, found.boxes) and torch.equal(labels, found.labels)
    seen = []
    forward = shapes_detector.roi_heads.forward
    monkeypatch.setattr(shapes_detector.roi_heads, "forward",
                        lambda features, proposals, sizes: seen.append(proposals[0]) or forward(features, proposals, sizes))
    frcnn.detect_with_ablated_rpn(shapes_detector, image, "no_reg", 50)
    anchors = torch.cat(found.anchors) / found.scale  # on the resized image, where proposals live
    clipped = frcnn.clip_boxes(anchors, (128, 128))
    assert len(seen[-1]) == 50 and all((clipped == box).all(dim=1).any() for box in seen[-1])
    frcnn.detect_with_ablated_rpn(shapes_detector, image, "no_cls", 50, torch.Generator().manual_seed(0))
    ranked = found.proposals.boxes[:50] / found.scale
    assert len(seen[-1]) == 50 and not torch.allclose(seen[-1], ranked)
    with pytest.raises(ValueError):
        frcnn.detect_with_ablated_rpn(shapes_detector, image, "no_rpn")
