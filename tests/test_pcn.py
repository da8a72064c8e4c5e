"""PCN: network shapes, window geometry against numpy, conventions, the authors' weights (shipped
in weights/, or their upstream files) on real faces turned every way and in a crowd, and the tab's
handler with good and bad inputs."""
import io

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from demos import pcn as demo
from demos.common import example_paths
from papers import pcn

ASTRONAUT = example_paths("astronaut.jpg")[0]


@pytest.fixture(autouse=True)
def _fresh_networks_one_thread():
    """Each test loads the networks as it finds them; one thread keeps a shared CPU responsive."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pcn.networks.cache_clear()
    yield
    pcn.networks.cache_clear()
    torch.set_num_threads(threads)


@pytest.fixture
def pcn_weights(monkeypatch, tmp_path):
    """The weights a fresh clone has: the converted files shipped in weights/, with no weights
    folder of the user's and an empty cache (offline: conftest)."""
    monkeypatch.delenv("GALLERY_WEIGHTS_DIR", raising=False)
    monkeypatch.setenv("GALLERY_CACHE_DIR", str(tmp_path / "empty-cache"))


@pytest.fixture
def upstream_weights(shared_dir, monkeypatch, tmp_path):
    """The authors' upstream files, found the way a user's hand-filled weights folder is (it is
    searched before weights/)."""
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(shared_dir / "weights" / "pcn"))
    monkeypatch.setenv("GALLERY_CACHE_DIR", str(tmp_path / "cache"))
    return shared_dir / "weights" / "pcn"


def _astronaut() -> np.ndarray:
    return np.asarray(Image.open(ASTRONAUT).convert("RGB"))


def _angle_error(a: float, b: float) -> float:
    return abs(float(pcn.wrap_angle(a - b)))


# --------------------------------------------------------------------------- networks (random weights)
def test_network_output_shapes_follow_the_paper():
    torch.manual_seed(0)
    face, box, up = pcn.PCN1()(torch.randn(2, 3, 24, 24))
    assert face.shape == (2, 1, 1) and box.shape == (2, 3, 1, 1) and up.shape == (2, 1, 1)
    face, box, orientation = pcn.PCN2()(torch.randn(5, 3, 24, 24))
    assert face.shape == (5,) and box.shape == (5, 3) and orientation.shape == (5, 3)
    assert torch.allclose(orientation.sum(1), torch.ones(5))
    face, box, angle = pcn.PCN3()(torch.randn(4, 3, 48, 48))
    assert face.shape == (4,) and box.shape == (4, 3) and angle.shape == (4,)


def test_pcn1_on_a_big_image_equals_sliding_its_24px_window_with_stride_8():
    torch.manual_seed(0)
    net = pcn.PCN1().eval()
    image = torch.randn(1, 3, 24 + 8 * 4, 24 + 8 * 6)
    face_map, box_map, up_map = net(image)
    assert face_map.shape == (1, 5, 7)
    for row, col in [(0, 0), (2, 3), (4, 6)]:
        window = image[..., 8 * row:8 * row + 24, 8 * col:8 * col + 24]
        face, box, up = net(window)
        assert torch.allclose(face_map[0, row, col], face[0, 0, 0], atol=1e-5)
        assert torch.allclose(box_map[0, :, row, col], box[0, :, 0, 0], atol=1e-5)
        assert torch.allclose(up_map[0, row, col], up[0, 0, 0], atol=1e-5)


# --------------------------------------------------------------------------- geometry and conventions
def _windows(angles, cx=20.0, cy=16.0, size=12.0) -> pcn.Windows:
    n = len(angles)
    return pcn.Windows(np.full(n, cx), np.full(n, cy), np.full(n, size), np.array(angles, float),
                       np.ones(n), np.zeros(n))


@pytest.mark.parametrize("angle, view", [
    (0, lambda a: a), (180, np.flipud), (90, lambda a: a.transpose(1, 0, 2)),
    (-90, lambda a: np.rot90(a, 1)),
])
def test_crops_are_the_authors_flips_and_transposes(angle, view):
    """At one crop pixel per image pixel, the warp must equal numpy's flip / transpose / rot90
    of the window (the views the authors' code crops from)."""
    image = np.random.default_rng(0).normal(size=(32, 40, 3)).astype(np.float32)
    crop = pcn.crop_views(image, _windows([angle]), side=12)[0].permute(1, 2, 0).numpy()
    window = image[16 - 6:16 + 6, 20 - 6:20 + 6]
    np.testing.assert_allclose(crop, view(window), atol=1e-5)


def test_one_call_crops_mixed_views_as_one_call_per_window_and_refuses_other_angles():
    """crop_views builds every window's warp at once: windows of all four views in one call
    must give exactly the crops of one call per window; an angle with no view is an error."""
    image = np.random.default_rng(1).normal(size=(32, 40, 3)).astype(np.float32)
    angles = [0, 180, 90, -90, 90, 0]
    together = pcn.crop_views(image, _windows(angles, cx=np.arange(6) + 14.5, size=np.arange(6) + 8.0), side=12)
    for n, angle in enumerate(angles):
        alone = pcn.crop_views(image, _windows([angle], cx=n + 14.5, size=n + 8.0), side=12)[0]
        assert torch.equal(together[n], alone)
    with pytest.raises(KeyError):
        _windows([45]).view_matrices()


def test_crops_outside_the_image_see_black_like_the_authors_zero_padding():
    image = pcn.to_network_input(np.full((20, 20, 3), 200, np.uint8))
    crop = pcn.crop_views(image, _windows([0], cx=0.0, cy=10.0, size=10.0), side=10)[0]  # (3, 10, 10)
    black = pcn.to_network_input(np.zeros((1, 1, 3), np.uint8))[0, 0]
    inside = pcn.to_network_input(np.full((1, 1, 3), 200, np.uint8))[0, 0]
    assert torch.allclose(crop[:, :, :5], torch.from_numpy(black)[:, None, None].expand(3, 10, 5))
    assert torch.allclose(crop[:, :, 5:], torch.from_numpy(inside)[:, None, None].expand(3, 10, 5))


def test_network_input_is_bgr_minus_the_authors_mean_exactly():
    rgb = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
    x = pcn.to_network_input(rgb)
    assert x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(x, rgb[..., ::-1].astype(np.float32) - np.float32([104, 117, 123]))


def test_calibration_moves_the_centre_in_the_view():
    windows = _windows([0, 180, 90, -90], size=10.0)
    moved = pcn.calibrate(windows, np.tile([2.0, 0.1, 0.2], (4, 1)))  # s, dx, dy
    np.testing.assert_allclose(moved.size, 20.0)
    shifts = np.stack([moved.cx - 20, moved.cy - 16], 1)  # view shift (2, 4) through each view
    np.testing.assert_allclose(shifts, [[2, 4], [2, -4], [4, 2], [-4, 2]])


def test_wrap_angle_lands_in_the_half_open_range():
    np.testing.assert_allclose(pcn.wrap_angle([-180, 180, 190, -190, 540, 0, -90]), [180, 180, -170, 170, 180, 0, -90])


def test_rotate_image_and_face_corners_share_one_angle_convention():
    """A point beside the centre, turned by rotate_image, lands where face_corners puts the same
    offset for a face at that angle (both: positive = counter-clockwise on screen)."""
    image = np.zeros((101, 101, 3), np.uint8)
    image[50, 80] = 255  # 30 px right of the centre: the right-middle of an upright face of side 60
    for degrees in (90, 30, -60, 200):
        turned = pcn.rotate_image(image, degrees, fill=(0, 0, 0))
        ys, xs = np.nonzero(turned[..., 0])
        weights = turned[ys, xs, 0].astype(float)
        spot = np.array([np.average(xs, weights=weights), np.average(ys, weights=weights)])
        centre = np.array([turned.shape[1], turned.shape[0]]) / 2 - 0.5
        corners = pcn.face_corners(pcn.Face(0, 0, 60, degrees, 1))  # centred on the origin
        right_middle = (corners[1] + corners[2]) / 2
        np.testing.assert_allclose(spot - centre, right_middle, atol=1.0)
    assert np.array_equal(pcn.rotate_image(image, 90), np.rot90(image))


def test_drop_nested_keeps_the_best_of_windows_inside_each_other():
    windows = pcn.Windows(np.array([50.0, 50, 90]), np.array([50.0, 50, 90]), np.array([40.0, 20, 20]),
                          np.zeros(3), np.array([0.9, 0.6, 0.5]), np.zeros(3))
    kept = pcn.drop_nested(windows)  # the 20 px window at (50, 50) lies inside the better 40 px one
    assert kept.size.tolist() == [40.0, 20.0] and kept.score.tolist() == [0.9, 0.5]
    assert len(pcn.drop_nested(windows.take([1, 2]))) == 2


def test_settings_out_of_range_are_refused():
    for bad in (dict(min_face=5), dict(scale_factor=1.0), dict(threshold_3=1.5)):
        with pytest.raises(ValueError):
            pcn.PCNSettings(**bad)


# --------------------------------------------------------------------------- the authors' weights, real faces
@pytest.fixture
def reference_face() -> pcn.Face:
    """Where the astronaut's face is, by a detector we did not write (scikit-image's cascade)."""
    faces = pcn.detect_upright_faces(_astronaut(), min_face=60)
    assert len(faces) == 1
    return faces[0]


def _turned_point(x, y, shape, degrees):
    """(x, y) of the original image after `rotate_image` by `degrees` (counter-clockwise)."""
    h, w = shape[:2]
    turned_shape = pcn.rotate_image(np.zeros((h, w), np.uint8), degrees).shape
    theta = np.deg2rad(degrees)
    dx, dy = x - w / 2, y - h / 2
    return (turned_shape[1] / 2 + dx * np.cos(theta) + dy * np.sin(theta),
            turned_shape[0] / 2 - dx * np.sin(theta) + dy * np.cos(theta))


@pytest.mark.parametrize("degrees", [0, 90, 180, 270, 45, -30, 135, 200])
def test_astronaut_turned_any_way_gives_one_face_at_the_right_place_and_angle(pcn_weights, reference_face, degrees):
    image = _astronaut()
    faces = pcn.detect_faces(pcn.rotate_image(image, degrees))
    assert len(faces) == 1
    face = faces[0]
    x, y = _turned_point(reference_face.x, reference_face.y, image.shape, degrees)
    assert np.hypot(face.x - x, face.y - y) < 0.25 * reference_face.size
    assert 0.7 < face.size / reference_face.size < 1.4
    assert _angle_error(face.angle, degrees) <= 15
    assert -180 < face.angle <= 180 and face.score > pcn.PCNSettings().threshold_3


def test_quarter_turns_by_numpy_give_the_documented_angles(pcn_weights):
    image = _astronaut()
    for quarter, expected in [(1, 90), (2, 180), (3, -90)]:
        (face,) = pcn.detect_faces(np.ascontiguousarray(np.rot90(image, quarter)))
        assert _angle_error(face.angle, expected) <= 15


def test_every_stage_narrows_the_candidates_and_decides_orientation(pcn_weights):
    detection = pcn.run_pcn(pcn.rotate_image(_astronaut(), 120))
    counts = [len(s) for s in detection.stages]
    assert counts[0] > counts[1] >= counts[2] == 1
    assert {f.angle for f in detection.stages[0]} <= {0.0, 180.0}
    assert {f.angle for f in detection.stages[1]} <= {0.0, 90.0, 180.0, -90.0}
    assert pcn.nearest_quarter(detection.faces[0].angle) == 90 and _angle_error(detection.faces[0].angle, 120) <= 15


def _lfw_photo(patch: np.ndarray) -> np.ndarray:
    """A 25x25 grey LFW patch, upscaled to 96 px with 48 px of its own edge around it, as RGB."""
    big = np.asarray(Image.fromarray((patch * 255).astype(np.uint8)).resize((96, 96), Image.BICUBIC))
    return np.repeat(np.pad(big, 48, mode="edge")[..., None], 3, axis=2)


def test_lfw_faces_are_found_at_every_quarter_turn(pcn_weights):
    """Real faces we did not pick (scikit-image's LFW subset: 100 faces, then 100 non-faces)."""
    from skimage.data import lfw_subset

    patches = lfw_subset()
    found = total = 0
    for patch in patches[:12]:
        for degrees in (0, 90, 180, 270):
            total += 1
            faces = pcn.detect_faces(pcn.rotate_image(_lfw_photo(patch), degrees))
            found += any(_angle_error(f.angle, degrees) <= 20 for f in faces)
    assert found / total >= 0.75
    false_alarms = sum(len(pcn.detect_faces(pcn.rotate_image(_lfw_photo(p), 60))) for p in patches[100:120])
    assert false_alarms <= 2


def test_calibration_is_what_finds_turned_faces(pcn_weights):
    """The baseline of results/pcn.json is fair: PCN's own networks with every orientation decision
    fixed upright find upright LFW faces as PCN does, and lose them once the faces are upside down
    or turned, where PCN still finds them (the paper's point, §1 and §3)."""
    from skimage.data import lfw_subset

    patches = lfw_subset()[:10]
    found = {}
    for degrees in (0, 180, 120):
        for name in ("ours", "no_calibration"):
            detect = pcn.DETECTORS[name]
            photos = [pcn.rotate_image(pcn.lfw_photo(p), degrees) for p in patches]
            found[name, degrees] = sum(any(pcn._is_hit(f, (ph.shape[1] / 2, ph.shape[0] / 2)) for f in detect(ph))
                                       for ph in photos)
    assert found["no_calibration", 0] >= 8 and found["ours", 0] >= 8, found
    assert found["no_calibration", 180] <= 2 and found["no_calibration", 120] <= 2, found
    assert found["ours", 180] >= 8 and found["ours", 120] >= 7, found


def test_lfw_trial_counts_hits_misses_and_false_alarms(pcn_weights, monkeypatch):
    """`lfw_trial` (behind results/pcn.json) on a tiny draw: counts are within range, a detection
    counts as a hit only near the true face, and the angle errors are PCN's own."""
    monkeypatch.setitem(pcn.EXPERIMENT_FACES, True, 4)
    monkeypatch.setattr(pcn, "_CACHE", {})
    trial = pcn.lfw_trial(3, quick=True)
    assert set(trial) == set(pcn.DETECTORS)
    for result in trial.values():
        assert 0 <= result["found"] <= 4 and result["false_alarms"] >= 0
    assert len(trial["ours"]["angle_errors"]) == trial["ours"]["found"]
    assert all(0 <= e <= 180 for e in trial["ours"]["angle_errors"])
    far = pcn.Face(0.0, 0.0, pcn.LFW_FACE, 0.0, 1.0)
    assert not pcn._is_hit(far, (96.0, 96.0)) and pcn._is_hit(pcn.Face(100.0, 90.0, 90.0, 0.0, 1.0), (96.0, 96.0))


def test_upright_cascade_misses_what_pcn_finds(pcn_weights):
    turned = pcn.rotate_image(_astronaut(), 90)
    assert len(pcn.detect_faces(turned)) == 1
    assert not pcn.detect_upright_faces(turned, min_face=60)


# --------------------------------------------------------------------------- the tab
def _png_bytes(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_tab_shows_every_stage_and_the_baseline(pcn_weights):
    final, baseline, first, second, third, summary, views = demo.detect(ASTRONAUT, 90)
    assert final.shape == baseline.shape == first.shape == (512, 512, 3)
    assert "PCN found 1 face(s)" in summary and "+9" in summary and "LBP cascade" in summary
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("value", [
    np.full((60, 80), 120, np.uint8),  # grey
    np.dstack([_astronaut(), np.full((512, 512), 255, np.uint8)]),  # RGBA
    (np.random.default_rng(0).integers(0, 65535, (64, 64))).astype(np.uint16),  # 16-bit
    np.zeros((2500, 1800, 3), np.uint8),  # huge: downscaled
])
def test_tab_handles_unusual_images(pcn_weights, value):
    outputs = demo.detect(value, 33)
    assert outputs[0].ndim == 3 and "PCN found" in outputs[-2]


@pytest.mark.parametrize("value, message", [
    (None, "No image"),
    (np.zeros((1, 1, 3), np.uint8), "at least"),
])
def test_tab_explains_bad_images(value, message):
    with pytest.raises(gr.Error, match=message):
        demo.detect(value)


def test_tab_explains_a_corrupt_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(_png_bytes(_astronaut())[:300])  # truncated
    with pytest.raises(gr.Error, match="could not be read"):
        demo.detect(str(path))


@pytest.mark.parametrize("settings", [
    dict(rotation=360, min_face=200, scale_factor=2.0, threshold_1=1, threshold_2=1, threshold_3=1),
    dict(rotation=0, min_face=20, scale_factor=1.1, threshold_1=0, threshold_2=0, threshold_3=0),
])
def test_tab_survives_sliders_at_their_extremes(pcn_weights, settings):
    outputs = demo.detect(np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((160, 160))), **settings)
    assert "PCN found" in outputs[-2]


def test_clearing_the_image_clears_the_results():
    assert demo.detect_new_image(None, 0) == (None, None, None, None, None, "", None)


def test_without_weights_the_tab_explains_and_still_runs_the_baseline(monkeypatch, tmp_path):
    import papers.checkpoints as checkpoints

    monkeypatch.setenv("GALLERY_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(checkpoints, "REPO_WEIGHTS_DIR", tmp_path / "no-weights")  # as if not shipped

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(checkpoints.urllib.request, "urlopen", offline)
    final, baseline, *_, summary, views = demo.detect(ASTRONAUT)
    assert "PCN could not run" in summary and "pcn1_sd.pth" in summary
    assert "LBP cascade" in summary and baseline.shape == final.shape


def test_upstream_files_convert_to_the_declared_safetensors(upstream_weights):
    """The authors' files are verified, converted and cached; our declared hash is the result."""
    from papers.checkpoints import cache_dir, load_state_dict, sha256_file

    for ckpt, net in zip(pcn.CHECKPOINTS, (pcn.PCN1(), pcn.PCN2(), pcn.PCN3())):
        state = load_state_dict(ckpt, "cpu")
        net.load_state_dict(state)  # strict: every key and shape matches
        assert sum(t.numel() for t in state.values()) == ckpt.num_params
        assert sha256_file(cache_dir() / ckpt.filename) == ckpt.sha256


def test_upstream_files_in_the_weights_folder_still_drive_the_detector(upstream_weights):
    """$GALLERY_WEIGHTS_DIR holding the authors' .pth files is searched first and used."""
    from papers.checkpoints import cache_dir

    faces = pcn.detect_faces(pcn.rotate_image(_astronaut(), 90))
    assert len(faces) == 1 and _angle_error(faces[0].angle, 90) <= 15
    assert all((cache_dir() / c.filename).is_file() for c in pcn.CHECKPOINTS)  # converted from upstream


# --------------------------------------------------------------------------- shipped weights, fresh clone
def test_a_fresh_clone_detects_the_turned_faces_offline(pcn_weights, monkeypatch):
    """No ../shared, no weights folder, an empty cache, no network: the tab's example photo (four
    turned copies of the astronaut's head) is detected with the weights shipped in weights/."""
    import papers.checkpoints as checkpoints

    def no_network(*args, **kwargs):
        raise AssertionError("a fresh clone must not need the network for PCN")

    monkeypatch.setattr(checkpoints, "_from_hub", no_network)
    monkeypatch.setattr(checkpoints, "_from_upstream", no_network)
    for ckpt in pcn.CHECKPOINTS:
        assert checkpoints.sha256_file(checkpoints.REPO_WEIGHTS_DIR / ckpt.filename) == ckpt.sha256
    final, baseline, first, second, third, summary, views = demo.detect(example_paths("pcn_turned_faces.jpg")[0])
    assert "PCN found 4 face(s)" in summary and "could not run" not in summary
    faces = pcn.detect_faces(np.asarray(Image.open(example_paths("pcn_turned_faces.jpg")[0]).convert("RGB")))
    assert len(faces) == 4 and min(f.score for f in faces) > pcn.PCNSettings().threshold_3
    assert len({(f.x // 220, f.y // 220) for f in faces}) == 4  # one face in each quarter of the photo


def test_convert_command_reproduces_the_shipped_files_byte_for_byte(upstream_weights, tmp_path):
    from papers import convert

    convert.main(["pcn", "--from", str(upstream_weights), "--out", str(tmp_path / "out")])
    for ckpt in pcn.CHECKPOINTS:
        shipped = (convert.REPO_WEIGHTS_DIR / ckpt.filename).read_bytes()
        assert (tmp_path / "out" / ckpt.filename).read_bytes() == shipped


def test_convert_refuses_a_file_that_is_not_the_published_one(upstream_weights, tmp_path):
    import shutil

    from papers import convert

    source = tmp_path / "upstream"
    shutil.copytree(upstream_weights, source)
    (source / "pcn2_sd.pth").chmod(0o644)
    with open(source / "pcn2_sd.pth", "r+b") as f:  # one byte of one weight changed
        f.seek(-100, 2)
        byte = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(SystemExit, match="pcn2.*sha256"):
        convert.main(["pcn", "--from", str(source), "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out" / "pcn2.safetensors").exists()


# --------------------------------------------------------------------------- crowds
OLD_CAP = 300  # the earlier version judged only this many best PCN-1 candidates in PCN-2 and PCN-3


def _crowd(cols: int = 12, rows: int = 8, cell: int = 60, sides=(26, 44), seed: int = 0):
    """A synthetic group photo: scikit-image's LFW faces (25x25 grey crops, real people), each
    resized to 26-44 px with a third of its side of its own edge around it, on a noisy grey
    canvas. Returns the RGB photo and the planted faces as (centre x, centre y, side)."""
    from skimage.data import lfw_subset

    rng = np.random.default_rng(seed)
    faces = lfw_subset()[:100]
    canvas = np.clip(0.5 + 0.1 * rng.standard_normal((rows * cell, cols * cell)), 0, 1)
    planted = []
    for n in range(rows * cols):
        side = int(rng.integers(sides[0], sides[1] + 1))
        face = Image.fromarray((faces[n % len(faces)] * 255).astype(np.uint8)).resize((side, side), Image.BICUBIC)
        pad = side // 3
        tile = np.pad(np.asarray(face) / 255, pad, mode="edge")  # (side + 2 pad, side + 2 pad)
        row, col = divmod(n, cols)
        y0 = max(0, row * cell + (cell - tile.shape[0]) // 2 + int(rng.integers(-3, 4)))
        x0 = max(0, col * cell + (cell - tile.shape[1]) // 2 + int(rng.integers(-3, 4)))
        h, w = min(tile.shape[0], canvas.shape[0] - y0), min(tile.shape[1], canvas.shape[1] - x0)
        canvas[y0:y0 + h, x0:x0 + w] = tile[:h, :w]
        planted.append((x0 + pad + side / 2, y0 + pad + side / 2, side))
    photo = np.repeat((canvas * 255).round().astype(np.uint8)[..., None], 3, axis=2)  # (H, W, 3)
    return photo, planted


def _found(faces: list[pcn.Face], planted) -> int:
    """How many planted faces some detection matches (centre within half the face, size within a
    factor of 2, upright within 20°), each detection used once."""
    free = list(faces)
    count = 0
    for x, y, side in planted:
        for face in free:
            if (np.hypot(face.x - x, face.y - y) < side / 2 and 0.5 < face.size / side < 2
                    and _angle_error(face.angle, 0) <= 20):
                free.remove(face)
                count += 1
                break
    return count


@pytest.fixture(scope="module")
def crowd():
    return _crowd()


def test_in_a_crowd_every_candidate_is_judged_and_recall_beats_the_old_cap(pcn_weights, crowd, monkeypatch):
    """Stage 1 leaves far more candidates than the old cap; PCN-2 and PCN-3 judge all of them,
    so faces that the 300 best-scored candidates do not cover are still found."""
    photo, planted = crowd
    settings = pcn.PCNSettings(min_face=20)
    judged = {}
    crop_views = pcn.crop_views

    def counting(image, windows, side):
        judged[side] = judged.get(side, 0) + len(windows)
        return crop_views(image, windows, side)

    monkeypatch.setattr(pcn, "crop_views", counting)
    detection = pcn.run_pcn(photo, settings)
    after_1, after_2, _ = (len(s) for s in detection.stages)
    assert after_1 > 2 * OLD_CAP
    assert judged == {pcn.PCN2.INPUT: after_1, pcn.PCN3.INPUT: after_2}  # nothing dropped on the way

    nets, image = pcn.networks("cpu"), pcn.to_network_input(photo)
    with torch.inference_mode():  # the same stages on only the old cap's best candidates
        first = pcn.stage1(nets[0], image, settings, "cpu")
        best = first.take(np.argsort(-first.score, kind="stable")[:OLD_CAP])
        capped = pcn.stage3(nets[2], image, pcn.stage2(nets[1], image, best, settings, "cpu"), settings, "cpu")
    found, found_capped = _found(detection.faces, planted), _found(pcn._faces(capped), planted)
    assert found >= 0.8 * len(planted)
    assert found >= found_capped + 5


def test_in_a_crowd_batching_gives_the_one_batch_pipelines_detections(pcn_weights, crowd, monkeypatch):
    """Judging BATCH candidates at a time only bounds memory: all candidates in one call give the
    same faces (up to float rounding, which may differ between batch sizes)."""
    photo, _ = crowd
    batched = pcn.detect_faces(photo, min_face=20)
    monkeypatch.setattr(pcn, "BATCH", 10**9)
    whole = pcn.detect_faces(photo, min_face=20)
    assert len(batched) == len(whole) > 50
    np.testing.assert_allclose([(f.x, f.y, f.size, f.angle, f.score) for f in batched],
                               [(f.x, f.y, f.size, f.angle, f.score) for f in whole], rtol=1e-4, atol=1e-3)


def test_the_pyramid_resized_on_a_helper_thread_is_the_one_resized_level_by_level():
    import cv2

    image = pcn.to_network_input(np.random.default_rng(0).integers(0, 256, (203, 311, 3), dtype=np.uint8))
    sizes = [(max(1, int(311 / s)), max(1, int(203 / s))) for s in pcn.pyramid_scales(203, 311, pcn.PCNSettings(min_face=20))]
    expected = [cv2.resize(image, size, interpolation=cv2.INTER_AREA) for size in sizes]
    for overlap in (True, False):
        levels = list(pcn.pyramid(image, sizes, overlap=overlap))
        assert len(levels) == len(sizes) > 3
        assert all(np.array_equal(a, b) for a, b in zip(levels, expected))


def test_overlapping_the_pyramid_with_pcn1_leaves_every_stage_bitwise_unchanged(pcn_weights, monkeypatch):
    """The helper thread is used when torch's threads leave a core free (os.cpu_count)."""
    photo = np.ascontiguousarray(np.rot90(np.asarray(Image.open(example_paths("pcn_turned_faces.jpg")[0]).convert("RGB"))))
    runs = {}
    for cores in (1, 64):
        monkeypatch.setattr(pcn.os, "cpu_count", lambda: cores)
        runs[cores] = pcn.run_pcn(photo, pcn.PCNSettings(min_face=20))
    assert len(runs[64].faces) >= 4
    for a, b in zip(runs[1].windows, runs[64].windows):
        for name in ("cx", "cy", "size", "angle", "score", "uid"):
            assert np.array_equal(getattr(a, name), getattr(b, name))


def test_each_networks_input_for_the_best_face_follows_its_lineage_and_the_angles_add_up(pcn_weights):
    photo = pcn.rotate_image(np.asarray(Image.open(ASTRONAUT).convert("RGB")), 100)
    detection = pcn.run_pcn(photo)
    for windows in detection.windows:
        assert len(set(windows.uid.tolist())) == len(windows)  # one identity per window
    views = pcn.stage_views(photo, detection)
    assert [v.crop.shape for v in views] == [(24, 24, 3), (24, 24, 3), (48, 48, 3)]
    assert views[0].decided in (0.0, 180.0) and views[1].decided in (-90.0, 0.0, 90.0) and abs(views[2].decided) <= 45
    total = pcn.wrap_angle(sum(v.decided for v in views))
    assert total == pytest.approx(detection.faces[0].angle, abs=1e-4)
    assert abs(pcn.wrap_angle(detection.faces[0].angle - 100)) < 20  # the turn it was given
    final = detection.windows[-1].take([np.argmax(detection.windows[-1].score)])
    first = detection.windows[0].take(detection.windows[0].uid == final.uid[0])
    assert abs(final.cx[0] - first.cx[0]) < first.size[0] / 2 and abs(final.cy[0] - first.cy[0]) < first.size[0] / 2


def test_the_tab_shows_what_each_network_saw(pcn_weights):
    *_, views = demo.detect(ASTRONAUT, 90)
    assert len(views) == 3 and all(image.shape == (192, 192, 3) for image, _ in views)
    assert "θ1" in views[0][1] and "θ3" in views[2][1]


def test_the_rotation_sweep_in_results_shows_pcn_ahead_of_the_upright_cascade_at_quarter_turns():
    recall, error = demo.sweep_frames()
    by = recall.pivot(index="turn (°)", columns="detector", values="faces found (%)")
    assert list(by.index) == list(pcn.SWEEP_ANGLES)
    for quarter in (90, 180, 270):
        assert by.loc[quarter, "PCN"] > by.loc[quarter, "LBP cascade"] + 50
    assert len(error) > 0 and error["median angle error (°)"].max() < 45
