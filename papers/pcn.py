"""Real-Time Rotation-Invariant Face Detection with Progressive Calibration Networks.

Xuepeng Shi, Shiguang Shan, Meina Kan, Shuzhe Wu, Xilin Chen. CVPR 2018.
https://arxiv.org/abs/1804.06039

A face may be turned by any in-plane angle. Instead of one big network that must recognise all
of them, PCN runs three small cascaded networks that each *calibrate* the candidate windows a
little: PCN-1 slides over an image pyramid and says face / not face, refines the box and decides
whether the face is up or down (down ones are flipped up-down: [-180°, 180°] -> [-90°, 90°]);
PCN-2 decides -90° / 0° / +90° (a quarter turn: -> [-45°, 45°]); PCN-3 regresses the remaining
angle. The angle of a face is the sum of the three decisions (Sec. 3: θ = θ1 + θ2 + θ3).

Angles here are in degrees, positive counter-clockwise on screen (a face in `np.rot90(img, 1)`
is at +90), wrapped into (-180, 180].

**Deviations from the paper**
- Inference only, with the authors' trained model (Caffe, ported to PyTorch by siriusdemon/
  pytorch-PCN); the training is not reproduced. Pre-processing follows the authors'
  code: BGR input minus the mean (104, 117, 123), no scaling; windows may reach up to 20 % of a
  side (at most 100 px) beyond the image, where they see black (the authors pad with zeros).
- A candidate's crop (flip / transpose, crop, resize) is sampled in one bilinear warp from the
  original image, in continuous coordinates; the authors flip whole padded images and crop
  integer-rounded windows. Up to a pixel of rounding, the networks see the same crops.
- Each pyramid level is resized (area interpolation) from the original image; the authors' code
  resizes the previous level again (the PyTorch port: nearest neighbour, also for the crops).
  An earlier hand check against a transcription of the port's pipeline compared centres, angles
  and faces found; that transcription is not in the repository, so its figures are not stated.
  The authors' video tracking mode is not included.
- What the authors' weights achieve here is measured by `python -m papers.reproduce pcn` into
  results/pcn.json: lfw_recall_random_angles (LFW faces at random in-plane angles, against the
  same networks with every orientation decision fixed upright, and an upright LBP cascade),
  lfw_angle_error, nonface_false_alarms.
- Stage-2 "rotate by ±90°" and the stage-3 views use the authors' cheap equivalents: a face at
  +90° is seen transposed (a mirror image, so its residual angle changes sign) and one at 180°
  flipped up-down, exactly as their code does.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from papers.checkpoints import Checkpoint, cached_model, get_device, load_state_dict


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class PCNSettings:
    """Detection settings; the defaults are the authors' (their demo uses these thresholds)."""

    min_face: float = 40.0  # pixels; the smallest face PCN-1 looks for (the authors clamp to >= 20)
    scale_factor: float = 1.414  # image pyramid: each level is this much smaller
    threshold_1: float = 0.37  # face score needed to pass PCN-1
    threshold_2: float = 0.43  # ... PCN-2
    threshold_3: float = 0.97  # ... PCN-3
    nms_1: float = 0.8  # IoU above which a lower-scored window is dropped (per pyramid level)
    nms_2: float = 0.8
    nms_3: float = 0.3  # final NMS, across levels

    def __post_init__(self):
        if not self.min_face >= SMALLEST_FACE:
            raise ValueError(f"The minimum face size must be at least {SMALLEST_FACE} pixels.")
        if not 1.05 <= self.scale_factor <= 4:
            raise ValueError("The pyramid scale factor must be between 1.05 and 4.")
        for f in fields(self):
            if f.name.startswith(("threshold", "nms")) and not 0 <= getattr(self, f.name) <= 1:
                raise ValueError(f"{f.name} must be between 0 and 1.")


SMALLEST_FACE = 20  # pixels: the authors' lower bound on `min_face`
WINDOW_PER_FACE = 1.4  # PCN-1's smallest window is this much larger than `min_face` (authors' code)
MEAN_BGR = (104.0, 117.0, 123.0)  # subtracted from the BGR input (authors' code)
BLACK = tuple(-m for m in MEAN_BGR)  # a black pixel as the networks see it
PAD_FRACTION, PAD_MAX = 0.2, 100  # how far windows may reach outside the image
ANGLE_RANGE = 45.0  # PCN-3 regresses the residual angle as a fraction of this (Sec. 3.4)
STAGE2_ANGLES = (90.0, 0.0, -90.0)  # PCN-2's three classes, in output order
BATCH = 256  # candidates per PCN-2 / PCN-3 call: bounds memory (crops, activations), not recall


# --------------------------------------------------------------------------- the three networks
class PCN1(nn.Module):
    """PCN-1 (Sec. 3.2): a fully convolutional 24x24 detector. Per window: face score,
    box calibration (scale, dx, dy) and up/down score. Strides 2·2·2 -> one window per 8 px."""

    INPUT = 24
    STRIDE = 8

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.cls_prob = nn.Conv2d(128, 2, 1)  # not-face / face
        self.bbox = nn.Conv2d(128, 3, 1)  # (s, x, y), Eq. 3
        self.rotate = nn.Conv2d(128, 2, 1)  # down / up, Eq. 4

    def forward(self, x):  # (B, 3, H, W) -> maps (B, H', W'), (B, 3, H', W'), (B, H', W')
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.relu(conv(x), inplace=True)  # in place: the same numbers, no second big map
        face = F.softmax(self.cls_prob(x), dim=1)[:, 1]
        up = F.softmax(self.rotate(x), dim=1)[:, 1]
        return face, self.bbox(x), up


class PCN2(nn.Module):
    """PCN-2 (Sec. 3.3): 24x24 crops of PCN-1's flipped candidates. Face score, box calibration
    and a three-way orientation: +90° / 0° / -90° (STAGE2_ANGLES). Pooling rounds up, as Caffe's
    does (the PyTorch port pads with zeros instead: the same after the ReLU)."""

    INPUT = 24

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 20, 3)
        self.conv2 = nn.Conv2d(20, 40, 3)
        self.conv3 = nn.Conv2d(40, 70, 2)
        self.fc = nn.Linear(70 * 3 * 3, 140)  # conv3 output is 3x3 for a 24x24 input
        self.cls_prob = nn.Linear(140, 2)
        self.bbox = nn.Linear(140, 3)
        self.rotate = nn.Linear(140, len(STAGE2_ANGLES))

    def forward(self, x):  # (B, 3, 24, 24) -> (B,), (B, 3), (B, 3)
        # ReLU after the pooling: the same numbers (max and ReLU commute), on a quarter of the values
        x = F.relu(F.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True), inplace=True)  # (B, 20, 11, 11)
        x = F.relu(F.max_pool2d(self.conv2(x), 3, 2, ceil_mode=True), inplace=True)  # (B, 40, 4, 4)
        x = F.relu(self.conv3(x), inplace=True).flatten(1)  # (B, 70 * 3 * 3)
        x = F.relu(self.fc(x), inplace=True)
        return F.softmax(self.cls_prob(x), dim=1)[:, 1], self.bbox(x), F.softmax(self.rotate(x), dim=1)


class PCN3(nn.Module):
    """PCN-3 (Sec. 3.4): 48x48 upright-ish crops (within ±45°). Face score, box calibration and
    the residual angle, regressed as a fraction of ANGLE_RANGE."""

    INPUT = 48

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 24, 3)
        self.conv2 = nn.Conv2d(24, 48, 3)
        self.conv3 = nn.Conv2d(48, 96, 3)
        self.conv4 = nn.Conv2d(96, 144, 2)
        self.fc = nn.Linear(144 * 3 * 3, 192)  # conv4 output is 3x3 for a 48x48 input
        self.cls_prob = nn.Linear(192, 2)
        self.bbox = nn.Linear(192, 3)
        self.rotate = nn.Linear(192, 1)

    def forward(self, x):  # (B, 3, 48, 48) -> (B,), (B, 3), (B,) degrees
        # ReLU after the pooling, as in PCN2: the same numbers on fewer values
        x = F.relu(F.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True), inplace=True)  # (B, 24, 23, 23)
        x = F.relu(F.max_pool2d(self.conv2(x), 3, 2, ceil_mode=True), inplace=True)  # (B, 48, 10, 10)
        x = F.relu(F.max_pool2d(self.conv3(x), 2, 2, ceil_mode=True), inplace=True)  # (B, 96, 4, 4)
        x = F.relu(self.conv4(x), inplace=True).flatten(1)  # (B, 144 * 3 * 3)
        x = F.relu(self.fc(x), inplace=True)
        return F.softmax(self.cls_prob(x), dim=1)[:, 1], self.bbox(x), ANGLE_RANGE * self.rotate(x)[:, 0]


# --------------------------------------------------------------------------- checkpoints
_UPSTREAM = ("https://raw.githubusercontent.com/siriusdemon/pytorch-PCN/"
             "6c6b15867b09a92eb1035e05c364b8710d7d49e3/pcn/pth/")
_CREDIT = ("Shi et al. (VIPL, ICT-CAS), Caffe model from Jack-CV/FaceKit (BSD-2-Clause), "
           "PyTorch port siriusdemon/pytorch-PCN (BSD-2-Clause)")


def _checkpoint(stage: int, **facts) -> Checkpoint:
    return Checkpoint(
        name=f"pcn{stage}", filename=f"pcn{stage}.safetensors", upstream_url=f"{_UPSTREAM}pcn{stage}_sd.pth",
        license="BSD-2-Clause", source=_CREDIT, description=f"PCN-{stage}, the authors' trained weights",
        reproduce="python -m papers.convert pcn", **facts,
    )


# Shipped in weights/ (BSD-2-Clause: notice in weights/LICENSE-PCN). sha256: our safetensors
# conversion (`python -m papers.convert pcn [--from DIR]` reproduces it byte for byte);
# upstream_sha256 and size_bytes: the upstream .pth file, still accepted from $GALLERY_WEIGHTS_DIR
CHECKPOINTS = (
    _checkpoint(1, num_params=57_383, size_bytes=231_638,
                upstream_sha256="85d9f7520be1bf099dbcaa5f1880b1812b09f3a1c6b38bacd6e149c31bb120de",
                sha256="818ca3ce41817a823ffb0a1b27b299a506edc72b595407b693e0f57dbd72d754"),
    _checkpoint(2, num_params=108_538, size_bytes=436_228,
                upstream_sha256="8568e664275de3faee0ca1bf8b5320cb42f9f165754f279534a2c8b9056bf693",
                sha256="19a2231527eb4a82f8f333fdef1b1303fc257e83120712278ec7b6e1cb765571"),
    _checkpoint(3, num_params=358_278, size_bytes=1_435_463,
                upstream_sha256="c00c6241f1ed59f346e94823cd51a65411cdedbaf77faa9253109c1255838d00",
                sha256="7f38d3719f49d54921f8d120a7aed3a852535d5abae1d9c6d49ae5d665e12ac8"),
)
WEIGHTS_TOTAL_BYTES = sum(c.size_bytes for c in CHECKPOINTS)


@cached_model
def networks(device: str) -> tuple[PCN1, PCN2, PCN3]:
    """The three networks with the authors' weights, on `device`, in eval mode."""
    nets = (PCN1(), PCN2(), PCN3())
    for net, ckpt in zip(nets, CHECKPOINTS):
        net.load_state_dict(load_state_dict(ckpt, device))  # strict: keys and shapes must match
    return tuple(net.to(device).eval() for net in nets)


# --------------------------------------------------------------------------- candidate windows
def wrap_angle(degrees):
    """Degrees -> (-180, 180]."""
    wrapped = np.mod(np.asarray(degrees, dtype=np.float64) + 180.0, 360.0) - 180.0
    return np.where(wrapped == -180.0, 180.0, wrapped)


# The views in which a candidate with a given coarse angle looks upright, as the 2x2 matrix that
# maps an offset in the view to an offset in the image (x right, y down). The authors' code uses
# these four because they are cheap (flip, transpose): mirrored views (det -1) turn the residual
# angle the other way.
VIEWS = {
    0: np.array([[1, 0], [0, 1]]),  # as it is
    180: np.array([[1, 0], [0, -1]]),  # flipped up-down (PCN-1's calibration)
    90: np.array([[0, 1], [1, 0]]),  # transposed: a face turned +90° stands up, mirrored
    -90: np.array([[0, -1], [1, 0]]),  # turned a quarter counter-clockwise: a face at -90° stands up
}
_VIEW_ANGLES = np.array(sorted(VIEWS))  # -90, 0, 90, 180: for looking up many windows at once
_VIEW_MATRICES = np.stack([VIEWS[a] for a in _VIEW_ANGLES])


@dataclass
class Windows:
    """Candidate face windows, one row each: square boxes (centre, side) in image pixels, the
    angle decided so far, the face score, and the pyramid level they came from."""

    cx: np.ndarray
    cy: np.ndarray
    size: np.ndarray
    angle: np.ndarray
    score: np.ndarray
    level: np.ndarray
    uid: np.ndarray | None = None  # a window's identity through the stages (numbered after PCN-1)

    def __post_init__(self):
        if self.uid is None:
            self.uid = np.arange(len(self.score))

    def __len__(self) -> int:
        return len(self.score)

    def take(self, keep) -> "Windows":
        return Windows(*(getattr(self, f.name)[keep] for f in fields(self)))

    @staticmethod
    def concat(parts: list["Windows"]) -> "Windows":
        return Windows(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Windows)))

    def corners(self) -> np.ndarray:  # (N, 4) x1, y1, x2, y2 of the axis-aligned squares
        half = self.size / 2
        return np.stack([self.cx - half, self.cy - half, self.cx + half, self.cy + half], axis=1)

    def view_matrices(self) -> np.ndarray:  # (N, 2, 2): VIEWS[angle] of every window
        angle = np.round(self.angle).astype(int)
        index = np.minimum(np.searchsorted(_VIEW_ANGLES, angle), len(_VIEW_ANGLES) - 1)
        if not np.array_equal(_VIEW_ANGLES[index], angle):
            raise KeyError(f"no view for the angles {sorted(set(angle[_VIEW_ANGLES[index] != angle]))}")
        return _VIEW_MATRICES[index]

    def view_handedness(self) -> np.ndarray:  # (N,) +1, or -1 where the view is a mirror image
        m = self.view_matrices()
        return m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]  # the determinant, exactly


def _empty_windows() -> Windows:
    return Windows(*(np.zeros(0) for _ in fields(Windows)))


def calibrate(windows: Windows, box: np.ndarray) -> Windows:
    """Apply the box calibration (t_w, t_a, t_b) predicted in each window's view (Sec. 3.2): the
    side is scaled by t_w and the centre moves by t_w·side·(t_a, t_b)."""
    s, dx, dy = box.T  # (N,) each
    shift_view = np.stack([dx, dy], axis=1) * (s * windows.size)[:, None]  # (N, 2)
    shift = np.einsum("nij,nj->ni", windows.view_matrices(), shift_view)  # (N, 2) in the image
    return Windows(windows.cx + shift[:, 0], windows.cy + shift[:, 1], windows.size * s,
                   windows.angle, windows.score, windows.level, windows.uid)


def inside_margin(windows: Windows, height: int, width: int) -> np.ndarray:
    """The authors' legality test: the window lies within the image padded by PAD_FRACTION."""
    pad_y, pad_x = min(int(height * PAD_FRACTION), PAD_MAX), min(int(width * PAD_FRACTION), PAD_MAX)
    x1, y1, x2, y2 = windows.corners().T
    return (windows.size >= 1) & (x1 >= -pad_x) & (y1 >= -pad_y) & (x2 <= width + pad_x) & (y2 <= height + pad_y)


def suppress(windows: Windows, iou: float, per_level: bool) -> Windows:
    """Non-maximum suppression on the axis-aligned squares; per pyramid level for stages 1-2
    (the authors' "local" NMS), across levels for stage 3."""
    from torchvision.ops import batched_nms, nms  # lazy: torchvision's import costs ~1.4 s at start-up

    if not len(windows):
        return windows
    boxes = torch.from_numpy(windows.corners()).float()
    scores = torch.from_numpy(windows.score).float()
    keep = (batched_nms(boxes, scores, torch.from_numpy(windows.level).long(), iou) if per_level
            else nms(boxes, scores, iou))
    return windows.take(keep.numpy())


def drop_nested(windows: Windows) -> Windows:
    """The authors' last clean-up: drop any window lying wholly inside a higher-scored one."""
    order = np.argsort(-windows.score, kind="stable")
    windows = windows.take(order)
    x1, y1, x2, y2 = windows.corners().T
    inside = ((x1[None] >= x1[:, None]) & (y1[None] >= y1[:, None]) &
              (x2[None] <= x2[:, None]) & (y2[None] <= y2[:, None]))  # inside[i, j]: j within i
    keep = np.ones(len(windows), dtype=bool)
    for i in range(len(windows)):
        if keep[i]:
            keep[i + 1:] &= ~inside[i, i + 1:]
    return windows.take(keep)


# --------------------------------------------------------------------------- image handling
def to_network_input(image_rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (H, W, 3) float32 BGR minus the authors' mean: the channel swap on
    the uint8 image, then OpenCV's subtraction straight into float32 (integers minus integer
    means: exact, whichever way it is computed; 8× faster than numpy's mixed-type subtract)."""
    import cv2

    return cv2.subtract(cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), (*MEAN_BGR, 0.0), dtype=cv2.CV_32F)


def crop_views(image: np.ndarray, windows: Windows, side: int) -> torch.Tensor:
    """Each window seen in its view (VIEWS[angle]), resized to side x side, in one bilinear warp.
    `image` comes from `to_network_input`; outside it the crop sees black, as in the authors'
    zero-padded image."""
    import cv2

    m = windows.view_matrices()  # (N, 2, 2)
    step = windows.size / side
    # crop pixel (u, v) -> image point centre + M @ ((u, v) + 0.5) * step - size / 2), in
    # OpenCV's convention where pixel centres sit on integer coordinates (hence the -0.5)
    corner = 0.5 * step - windows.size / 2
    origin = np.stack([windows.cx, windows.cy], axis=1) - 0.5 + np.einsum("nij,nj->ni", m, np.stack([corner, corner], axis=1))
    affines = np.concatenate([m * step[:, None, None], origin[:, :, None]], axis=2)  # (N, 2, 3): crop -> image
    crops = np.zeros((len(windows), side, side, 3), dtype=np.float32)
    for n, affine in enumerate(affines):
        crops[n] = cv2.warpAffine(image, affine, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=BLACK)
    return torch.from_numpy(crops).permute(0, 3, 1, 2)  # (N, 3, side, side)


def pyramid_scales(height: int, width: int, settings: PCNSettings) -> list[float]:
    """Scales (original px per network px) at which PCN-1's 24x24 window sees faces from
    `min_face` up to the whole image, each level `scale_factor` coarser (Sec. 3.2). The window
    holds some context: it is WINDOW_PER_FACE times the face, as in the authors' code."""
    scales, scale = [], settings.min_face * WINDOW_PER_FACE / PCN1.INPUT
    while min(height, width) / scale >= PCN1.INPUT:
        scales.append(scale)
        scale *= settings.scale_factor
    return scales


# --------------------------------------------------------------------------- the three stages
def pyramid(image: np.ndarray, sizes: list[tuple[int, int]], overlap: bool | None = None):
    """The pyramid levels, each area-resized from `image` to (width, height) in `sizes`, in
    order. With `overlap` (default: when torch's threads leave a CPU core free) the later levels
    are resized on a helper thread while the caller runs PCN-1 on the earlier ones (OpenCV
    releases the GIL); the pixels are the same either way. The levels' memory is allocated on
    the calling thread: memory the helper allocated would come from another malloc arena, handed
    back to the system after every call and paid for again in page faults (thousands per frame)."""
    import cv2

    if overlap is None:
        overlap = torch.get_num_threads() < (os.cpu_count() or 1)
    levels = [np.empty((height, width, image.shape[2]), image.dtype) for width, height in sizes]

    def resize(level):
        return cv2.resize(image, sizes[level], dst=levels[level], interpolation=cv2.INTER_AREA)

    if not overlap or len(sizes) < 2:
        yield from map(resize, range(len(sizes)))
        return
    with ThreadPoolExecutor(1, thread_name_prefix="pcn-pyramid") as helper:
        later = helper.map(resize, range(1, len(sizes)))  # queued at once: the helper starts on level 1 now
        yield resize(0)
        yield from later


def stage1(net: PCN1, image: np.ndarray, settings: PCNSettings, device) -> Windows:
    """PCN-1 slides a 24x24 window (stride 8) over every pyramid level: face score, box and
    up/down. Faces judged "down" get the coarse angle 180° (they will be seen flipped)."""
    height, width = image.shape[:2]
    scales = pyramid_scales(height, width, settings)
    sizes = [(max(1, int(width / scale)), max(1, int(height / scale))) for scale in scales]
    parts, boxes = [], []
    for level, resized in enumerate(pyramid(image, sizes)):
        scale = scales[level]
        x = torch.from_numpy(resized).permute(2, 0, 1)[None].to(device)  # (1, 3, h, w)
        face, box, up = (t[0].cpu().numpy() for t in net(x))  # (h', w'), (3, h', w'), (h', w')
        rows, cols = np.nonzero(face > settings.threshold_1)
        parts.append(Windows(
            cx=(cols * PCN1.STRIDE + PCN1.INPUT / 2) * scale, cy=(rows * PCN1.STRIDE + PCN1.INPUT / 2) * scale,
            size=np.full(len(rows), PCN1.INPUT * scale), angle=np.where(up[rows, cols] > 0.5, 0.0, 180.0),
            score=face[rows, cols].astype(np.float64), level=np.full(len(rows), level),
        ))
        boxes.append(box[:, rows, cols].T)
    if not parts:
        return _empty_windows()
    windows = calibrate(Windows.concat(parts), np.concatenate(boxes))  # row by row: once for all levels
    windows.uid = np.arange(len(windows))
    windows = windows.take(inside_margin(windows, height, width))
    return suppress(windows, settings.nms_1, per_level=True)


def _judge(net, image: np.ndarray, windows: Windows, threshold: float, device):
    """Run a stage network on the upright view of every window, best first, BATCH windows per
    call; keep those above `threshold`. Every candidate is judged, as in the authors' code: a
    crowd leaves thousands after PCN-1, and keeping only the best few would drop real faces.
    Thresholds near 0 let almost every window through: time grows with their number, memory
    does not (BATCH).
    Returns (kept windows with their new scores, box calibration, orientation output)."""
    if not len(windows):
        return windows, np.zeros((0, 3)), np.zeros((0,))
    windows = windows.take(np.argsort(-windows.score, kind="stable"))
    outputs = []
    for start in range(0, len(windows), BATCH):
        crops = crop_views(image, windows.take(slice(start, start + BATCH)), net.INPUT)  # (b, 3, side, side)
        outputs.append([t.cpu().numpy() for t in net(crops.to(device))])
    face, box, orientation = (np.concatenate(parts) for parts in zip(*outputs))
    keep = face > threshold
    kept = windows.take(keep)
    kept.score = face[keep].astype(np.float64)
    return kept, box[keep], orientation[keep]


def stage2(net: PCN2, image: np.ndarray, windows: Windows, settings: PCNSettings, device) -> Windows:
    """PCN-2 on the (flipped) candidates: face score, box, and -90° / 0° / +90°. The coarse angle
    accumulates θ1 + θ2; a mirrored (flipped) view turns the decision around."""
    kept, box, orientation = _judge(net, image, windows, settings.threshold_2, device)
    if not len(kept):
        return kept
    theta2 = np.take(STAGE2_ANGLES, orientation.argmax(axis=1))
    mirror = kept.view_handedness()
    calibrated = calibrate(kept, box)
    calibrated.angle = wrap_angle(kept.angle + mirror * theta2)
    calibrated = calibrated.take(inside_margin(calibrated, *image.shape[:2]))
    return suppress(calibrated, settings.nms_2, per_level=True)


def stage3(net: PCN3, image: np.ndarray, windows: Windows, settings: PCNSettings, device) -> Windows:
    """PCN-3 on candidates turned upright (within ±45°): face score, box, and the residual angle
    θ3 by regression; the final angle is θ1 + θ2 + θ3. Then NMS across levels."""
    kept, box, theta3 = _judge(net, image, windows, settings.threshold_3, device)
    if not len(kept):
        return kept
    mirror = kept.view_handedness()
    calibrated = calibrate(kept, box)
    calibrated.angle = wrap_angle(kept.angle + mirror * theta3)
    calibrated = calibrated.take(inside_margin(calibrated, *image.shape[:2]))
    return drop_nested(suppress(calibrated, settings.nms_3, per_level=False))


# --------------------------------------------------------------------------- public API
@dataclass(frozen=True)
class Face:
    """A detected face: centre (x, y) and side in pixels, in-plane angle in degrees (0 upright,
    +90 for a face in an image turned a quarter counter-clockwise), and the face score."""

    x: float
    y: float
    size: float
    angle: float
    score: float


@dataclass
class Detection:
    """What each stage kept (as faces, with the angle decided so far) and how long it took."""

    stages: list[list[Face]]  # after PCN-1, PCN-2, PCN-3
    seconds: list[float] = field(default_factory=list)  # per stage
    windows: list[Windows] = field(default_factory=list)  # what each stage kept, with their uids

    @property
    def faces(self) -> list[Face]:
        return self.stages[-1]


def _faces(windows: Windows) -> list[Face]:
    order = np.argsort(-windows.score, kind="stable")
    return [Face(float(windows.cx[i]), float(windows.cy[i]), float(windows.size[i]),
                 float(windows.angle[i]), float(windows.score[i])) for i in order]


def run_pcn(image_rgb: np.ndarray, settings: PCNSettings | None = None) -> Detection:
    """The whole cascade on an (H, W, 3) uint8 RGB image, keeping every stage's candidates."""
    settings = settings or PCNSettings()
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError("PCN needs an (H, W, 3) uint8 RGB image.")
    device = get_device()
    nets = networks(str(device))
    image = to_network_input(image_rgb)
    stages, seconds, kept, windows = [], [], [], None
    with torch.inference_mode():
        for run_stage, net in zip((stage1, stage2, stage3), nets):
            start = time.perf_counter()
            windows = (run_stage(net, image, settings, device) if windows is None
                       else run_stage(net, image, windows, settings, device))
            seconds.append(time.perf_counter() - start)
            stages.append(_faces(windows))
            kept.append(windows)
    return Detection(stages, seconds, kept)


@dataclass
class StageView:
    """What one network was shown for a face: its input crop (RGB uint8, the network's side)
    and the angle it decided (θ1: 0 / 180; θ2: -90 / 0 / +90; θ3: the residual)."""

    crop: np.ndarray
    decided: float


def stage_views(image_rgb: np.ndarray, detection: Detection, rank: int = 0) -> list[StageView]:
    """The crops PCN-1, PCN-2 and PCN-3 saw for the `rank`-th best final face (Sec. 3): PCN-1 its
    window upright at 24 px (as on its pyramid level), PCN-2 the window after θ1 (flipped when
    upside down) at 24 px, PCN-3 after θ1 + θ2 (transposed for ±90°) at 48 px."""
    final = detection.windows[-1]
    uid = final.uid[np.argsort(-final.score, kind="stable")[rank]]
    seen = [w.take(w.uid == uid) for w in detection.windows]  # the same window after each stage
    image = to_network_input(image_rgb)
    upright = Windows(seen[0].cx, seen[0].cy, seen[0].size, np.zeros(1), seen[0].score, seen[0].level, seen[0].uid)
    inputs = [(upright, PCN1.INPUT), (seen[0], PCN2.INPUT), (seen[1], PCN3.INPUT)]
    angles = [seen[0].angle[0], seen[1].angle[0], seen[2].angle[0]]
    decided = [angles[0], float(wrap_angle(angles[1] - angles[0])), float(wrap_angle(angles[2] - angles[1]))]
    return [StageView(_to_rgb(crop_views(image, w, side)[0]), d) for (w, side), d in zip(inputs, decided)]


def _to_rgb(crop: torch.Tensor) -> np.ndarray:
    """A network input (3, S, S) BGR minus the mean -> (S, S, 3) RGB uint8."""
    bgr = crop.permute(1, 2, 0).numpy() + np.float32(MEAN_BGR)
    return np.clip(bgr[..., ::-1] + 0.5, 0, 255).astype(np.uint8)


def detect_faces(image_rgb: np.ndarray, **settings) -> list[Face]:
    """Faces at any in-plane angle in an (H, W, 3) uint8 RGB image, best first.

    `settings` are `PCNSettings` fields: min_face, scale_factor, threshold_1/2/3, nms_1/2/3."""
    return run_pcn(image_rgb, PCNSettings(**settings)).faces


# --------------------------------------------------------------------------- helpers for the demo
def face_corners(face: Face) -> np.ndarray:
    """(4, 2) corners of the face's square turned by its angle, starting top-left of the face
    and going clockwise on screen (the first edge is the top of the head)."""
    half = face.size / 2
    offsets = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])  # upright face
    theta = np.deg2rad(face.angle)
    # counter-clockwise on screen with y pointing down
    turn = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    return np.array([face.x, face.y]) + offsets @ turn.T


def rotate_image(image: np.ndarray, degrees: float, fill=(128, 128, 128)) -> np.ndarray:
    """The image turned counter-clockwise by `degrees`, on a canvas that holds all of it
    (quarter turns are exact: `np.rot90`)."""
    import cv2

    degrees = float(np.mod(degrees, 360.0))
    if degrees % 90 == 0:
        return np.ascontiguousarray(np.rot90(image, int(degrees // 90)))
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)  # CCW on screen
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(np.ceil(width * cos + height * sin)), int(np.ceil(width * sin + height * cos))
    matrix[:, 2] += (new_w - width) / 2, (new_h - height) / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def detect_upright_faces(image_rgb: np.ndarray, min_face: float = 40.0, scale_factor: float = 1.2) -> list[Face]:
    """The classical baseline: scikit-image's LBP cascade with OpenCV's frontal-face model
    (a Viola-Jones style detector trained on upright faces). Its boxes get angle 0 and no score
    (NaN): the cascade only says yes or no."""
    from skimage import color

    grey = color.rgb2gray(image_rgb)
    side = int(round(min_face))
    cascade, lock = _lbp_cascade()
    with lock:  # one Cascade object, not known to be thread-safe
        found = cascade.detect_multi_scale(grey, scale_factor=scale_factor, step_ratio=1,
                                           min_size=(side, side), max_size=grey.shape)
    return [Face(f["c"] + f["width"] / 2, f["r"] + f["height"] / 2, float(f["width"]), 0.0, float("nan"))
            for f in found]


@cached_model
def _lbp_cascade():
    from skimage import data, feature

    return feature.Cascade(data.lbp_frontal_face_cascade_filename()), threading.Lock()


# Colours (RGB) of the four coarse orientations, used to show each stage's decision.
ORIENTATION_COLOURS = {0: (46, 204, 64), 90: (0, 116, 217), 180: (255, 133, 27), -90: (240, 18, 190)}


def nearest_quarter(angle: float) -> int:
    return int(wrap_angle(90.0 * round(angle / 90.0)))


def draw_faces(image_rgb: np.ndarray, faces: list[Face], labels: list[str] | None = None,
               colour: tuple[int, int, int] | None = None) -> np.ndarray:
    """A copy of the image with each face's turned square (thick edge = top of the head) and a
    label; coloured by the face's nearest quarter-turn orientation unless `colour` is given."""
    import cv2

    canvas = np.ascontiguousarray(image_rgb.copy())
    thickness = max(1, round(max(canvas.shape[:2]) / 320))
    font_scale = max(0.4, max(canvas.shape[:2]) / 1000)
    for n, face in enumerate(faces):
        hue = colour or ORIENTATION_COLOURS[nearest_quarter(face.angle)]
        corners = np.round(face_corners(face)).astype(np.int32)
        cv2.polylines(canvas, [corners], True, hue, thickness, cv2.LINE_AA)
        cv2.line(canvas, tuple(corners[0]), tuple(corners[1]), hue, 3 * thickness, cv2.LINE_AA)
        if labels:
            x, y = corners[:, 0].min(), corners[:, 1].min()
            origin = (int(x), int(max(y - 4, 12 * font_scale + 2)))
            cv2.putText(canvas, labels[n], origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 3 * thickness, cv2.LINE_AA)
            cv2.putText(canvas, labels[n], origin, cv2.FONT_HERSHEY_SIMPLEX, font_scale, hue, thickness, cv2.LINE_AA)
    return canvas


# ---- experiments behind the claims
# Real faces we did not pick: scikit-image's LFW subset (100 grey 25x25 face crops, then 100
# non-face patches), each upscaled to LFW_FACE px with half of that of its own edge around it and
# turned by a random in-plane angle; the seed is the draw of the angles. The authors' shipped
# weights are only evaluated, so every claim is `--check`-able.
LFW_FACE = 96  # px: side of an upscaled 25x25 LFW crop, i.e. the true face's side
FOUND_CENTRE, FOUND_SIZE = 0.3, (0.5, 2.0)  # a hit: centre within 0.3 sides, side within 0.5x-2x
EXPERIMENT_FACES = {False: 100, True: 20}  # faces (and as many non-faces) per seed


def lfw_photo(patch: np.ndarray) -> np.ndarray:
    """A 25x25 grey LFW patch in [0, 1] -> (2 LFW_FACE)^2 RGB uint8, the face in the middle."""
    from PIL import Image

    big = np.asarray(Image.fromarray((patch * 255).astype(np.uint8)).resize((LFW_FACE, LFW_FACE), Image.BICUBIC))
    return np.repeat(np.pad(big, LFW_FACE // 2, mode="edge")[..., None], 3, axis=2)


class _FixedUpright(nn.Module):
    """One of PCN's networks with its orientation output pinned to "upright", so the cascade never
    calibrates: the same networks as an upright-only cascade (the paper's motivation, §1)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.INPUT = net, net.INPUT

    def forward(self, x):
        face, box, orientation = self.net(x)
        if isinstance(self.net, PCN1):
            orientation = torch.ones_like(orientation)  # p(up) = 1
        elif isinstance(self.net, PCN2):
            orientation = F.one_hot(torch.full(orientation.shape[:1], STAGE2_ANGLES.index(0.0), device=x.device),
                                    len(STAGE2_ANGLES)).to(orientation.dtype)
        else:
            orientation = torch.zeros_like(orientation)  # residual angle 0
        return face, box, orientation


def detect_without_calibration(image_rgb: np.ndarray, settings: PCNSettings | None = None) -> list[Face]:
    """PCN's three networks and stages with every orientation decision fixed at 0° (baseline)."""
    settings = settings or PCNSettings()
    device = get_device()
    nets = [_FixedUpright(net) for net in networks(str(device))]
    image, windows = to_network_input(image_rgb), None
    with torch.inference_mode():
        windows = stage1(nets[0], image, settings, device)
        windows = stage2(nets[1], image, windows, settings, device)
        windows = stage3(nets[2], image, windows, settings, device)
    return _faces(windows)


DETECTORS = {"ours": detect_faces, "no_calibration": detect_without_calibration,
             "lbp_cascade": detect_upright_faces}


def _is_hit(face: Face, centre: tuple[float, float]) -> bool:
    return (np.hypot(face.x - centre[0], face.y - centre[1]) <= FOUND_CENTRE * LFW_FACE
            and FOUND_SIZE[0] <= face.size / LFW_FACE <= FOUND_SIZE[1])


_CACHE: dict = {}


def lfw_trial(seed: int, quick: bool) -> dict:
    """For each detector: faces found, angle errors of PCN's hits, detections on non-faces, with
    faces and non-faces turned by angles drawn uniformly from [-180°, 180°) with `seed`."""
    key = (seed, quick)
    if key in _CACHE:
        return _CACHE[key]
    from skimage.data import lfw_subset

    patches = lfw_subset()
    count = EXPERIMENT_FACES[quick]
    rng = np.random.default_rng(seed)
    face_angles, other_angles = rng.uniform(-180, 180, count), rng.uniform(-180, 180, count)
    result = {name: {"found": 0, "false_alarms": 0, "angle_errors": []} for name in DETECTORS}
    for patch, degrees in zip(patches[:count], face_angles):
        photo = rotate_image(lfw_photo(patch), degrees)
        centre = (photo.shape[1] / 2, photo.shape[0] / 2)  # rotate_image turns about the middle
        for name, detect in DETECTORS.items():
            hits = [f for f in detect(photo) if _is_hit(f, centre)]
            result[name]["found"] += bool(hits)
            if hits:
                result[name]["angle_errors"].append(abs(float(wrap_angle(hits[0].angle - degrees))))
    for patch, degrees in zip(patches[100:100 + count], other_angles):
        photo = rotate_image(lfw_photo(patch), degrees)
        for name, detect in DETECTORS.items():
            result[name]["false_alarms"] += len(detect(photo))
    _CACHE[key] = result
    return result


SWEEP_ANGLES = tuple(range(0, 360, 15))  # the rotation-invariance sweep, degrees counter-clockwise
SWEEP_FACES = {False: 20, True: 4}  # LFW faces per seed (drawn from the first 100 by the seed)
SWEEP_DETECTORS = ("ours", "lbp_cascade")


def angle_sweep(seed: int, quick: bool) -> dict:
    """Every face of a seeded draw turned by each angle of SWEEP_ANGLES: per detector and angle,
    the share of faces found and (PCN) the median |angle error| of the hits."""
    key = ("sweep", seed, quick)
    if key in _CACHE:
        return _CACHE[key]
    from skimage.data import lfw_subset

    patches = lfw_subset()[:100]
    chosen = np.random.default_rng(seed).choice(len(patches), SWEEP_FACES[quick], replace=False)
    found = {name: {a: 0 for a in SWEEP_ANGLES} for name in SWEEP_DETECTORS}
    errors = {a: [] for a in SWEEP_ANGLES}
    for index in chosen:
        upright = lfw_photo(patches[index])
        for degrees in SWEEP_ANGLES:
            photo = rotate_image(upright, degrees)
            centre = (photo.shape[1] / 2, photo.shape[0] / 2)
            for name in SWEEP_DETECTORS:
                hits = [f for f in DETECTORS[name](photo) if _is_hit(f, centre)]
                found[name][degrees] += bool(hits)
                if hits and name == "ours":
                    errors[degrees].append(abs(float(wrap_angle(hits[0].angle - degrees))))
    count = len(chosen)
    _CACHE[key] = {"recall": {n: {a: 100 * v / count for a, v in per.items()} for n, per in found.items()},
                   "angle_error": {a: float(np.median(e)) if e else None for a, e in errors.items()}}
    return _CACHE[key]


def sweep_key(degrees: int) -> str:
    """The results key of one angle of the sweep ("deg_15")."""
    return f"deg_{degrees}"


def _sweep_recall(detector: str):
    def measure(seed, quick):
        by_angle = angle_sweep(seed, quick)["recall"][detector]
        return {"ours": float(np.mean(list(by_angle.values()))), **{sweep_key(a): v for a, v in by_angle.items()}}
    return measure


def _sweep_angle_error(seed, quick):
    by_angle = {a: e for a, e in angle_sweep(seed, quick)["angle_error"].items() if e is not None}
    return {"ours": float(np.median(list(by_angle.values()))), **{sweep_key(a): e for a, e in by_angle.items()}}


def _measure_recall(seed, quick):
    trial = lfw_trial(seed, quick)
    return {name: 100 * r["found"] / EXPERIMENT_FACES[quick] for name, r in trial.items()}


def _measure_angle_error(seed, quick):
    errors = lfw_trial(seed, quick)["ours"]["angle_errors"]
    return {"ours": float(np.median(errors)) if errors else float("nan")}


def _measure_false_alarms(seed, quick):
    return {name: r["false_alarms"] for name, r in lfw_trial(seed, quick).items()}


def _experiments():
    from papers.results import Experiment, Paper

    labels = {"ours": "PCN (authors' weights)", "no_calibration": "PCN's networks, orientation fixed upright",
              "lbp_cascade": "LBP cascade (upright faces)"}
    faces = (f"{EXPERIMENT_FACES[False]} scikit-image LFW faces, each turned by a random in-plane angle "
             "(the seed draws the angles)")
    paper_recall = Paper(None, "Fig. 6, Table 2", "PCN's recall on multi-oriented FDDB (faces turned by 0°, 90°, "
                                                  "180°, -90°) at 100 false positives; not comparable with LFW crops")
    return [
        Experiment("lfw_recall_random_angles", "Faces found at any in-plane angle: PCN vs the same networks "
                   "never calibrating and vs an upright-only cascade (" + faces + ")",
                   "% of faces found (centre within 0.3 face sides, side within 0.5x-2x)",
                   _measure_recall, seeds=5, higher_is_better=True, paper=paper_recall, checkable=True,
                   tolerance=1.0, digits=1, labels=labels),
        Experiment("lfw_angle_error", "PCN's in-plane angle (θ1 + θ2 + θ3) against the true turn, over the faces "
                   "it found (" + faces + ")", "median |angle error| (degrees)", _measure_angle_error, seeds=5,
                   higher_is_better=False, paper=Paper(None, "§4.2", "the paper shows calibration accuracy as "
                                                                     "curves, not one figure"),
                   checkable=True, tolerance=0.3, digits=1, labels=labels),
        Experiment("angle_sweep_recall", "Rotation invariance: faces PCN finds at each turn from 0° to 345° in "
                   f"15° steps ({SWEEP_FACES[False]} LFW faces per seed, each at every angle); ours = the mean over "
                   "angles", "% of faces found", _sweep_recall("ours"), seeds=3, higher_is_better=True,
                   paper=paper_recall, digits=1, labels={sweep_key(a): f"at {a}°" for a in SWEEP_ANGLES}),
        Experiment("angle_sweep_cascade_recall", "The same sweep for the upright-only LBP cascade; ours = its mean "
                   "over angles", "% of faces found", _sweep_recall("lbp_cascade"), seeds=3, higher_is_better=True,
                   digits=1, labels={sweep_key(a): f"at {a}°" for a in SWEEP_ANGLES}),
        Experiment("angle_sweep_angle_error", "PCN's angle error at each turn of the sweep (faces it found); ours = "
                   "the median over angles", "median |angle error| (degrees)", _sweep_angle_error, seeds=3,
                   higher_is_better=False, digits=1, labels={sweep_key(a): f"at {a}°" for a in SWEEP_ANGLES}),
        Experiment("nonface_false_alarms", "Detections on scikit-image's 100 LFW non-face patches, each turned by a "
                   "random angle (any detection is false)", "detections on 100 non-face images",
                   _measure_false_alarms, seeds=5, higher_is_better=False, checkable=True, tolerance=1.0, digits=1,
                   labels=labels),
    ]


EXPERIMENTS = _experiments()
