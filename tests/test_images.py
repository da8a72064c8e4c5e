"""Every kind of bad or odd image input becomes clean RGB uint8 (or, for `to_grey`, grey in [0, 1]
scaled by a 16-bit image's own range) or a readable BadImage."""
import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from papers import images
from papers.images import MAX_SIDE, BadImage, to_grey, to_rgb

PIL_DEFAULT_MAX_PIXELS = int(1024 * 1024 * 1024 // 4 // 3)  # PIL.Image's own default


def test_none_is_a_clear_message():
    with pytest.raises(BadImage, match="No image"):
        to_rgb(None)


def test_tiny_image_is_refused():
    with pytest.raises(BadImage, match="1×1"):
        to_rgb(np.zeros((1, 1, 3), np.uint8))


def test_huge_image_is_downscaled_with_a_note():
    clean = to_rgb(np.zeros((3000, 1500, 3), np.uint8))
    assert clean.rgb.shape == (MAX_SIDE, MAX_SIDE // 2, 3)
    assert "downscaled" in clean.notes[0]


@pytest.mark.parametrize("array", [
    np.full((20, 30), 128, np.uint8),                 # grey
    np.full((20, 30, 1), 128, np.uint8),              # grey with a channel axis
    np.full((20, 30), 32896, np.uint16),              # 16-bit grey
    np.full((20, 30, 3), 0.5, np.float32),            # float in [0, 1]
    np.dstack([np.full((20, 30, 3), 128, np.uint8), np.full((20, 30), 255, np.uint8)]),  # RGBA
])
def test_formats_become_rgb_uint8(array):
    rgb = to_rgb(array).rgb
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert abs(int(rgb.mean()) - 128) <= 1


def test_transparent_pixels_become_white():
    rgba = np.zeros((10, 10, 4), np.uint8)
    assert to_rgb(rgba).rgb.min() == 255


def test_nan_values_do_not_crash():
    arr = np.full((10, 10), np.nan, np.float32)
    assert to_rgb(arr).rgb.shape == (10, 10, 3)


def test_sixteen_bit_png_file(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((16, 16), 65535, np.uint16)).save(path)
    assert to_rgb(str(path)).rgb.min() == 255


def test_truncated_jpeg_and_non_image_bytes(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buffer, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (tmp_path / "text.png").write_bytes(b"this is not an image")
    for name in ("cut.jpg", "text.png"):
        with pytest.raises(BadImage, match="could not be read"):
            to_rgb(str(tmp_path / name))


def test_sketchpad_dict_uses_the_composite():
    value = {"background": None, "layers": [], "composite": np.full((12, 12, 4), 255, np.uint8)}
    assert to_rgb(value).rgb.shape == (12, 12, 3)
    with pytest.raises(BadImage, match="empty"):
        to_rgb({"background": None, "layers": [], "composite": None})


def test_wrong_shape_is_explained():
    with pytest.raises(BadImage, match="shape"):
        to_rgb(np.zeros((4, 4, 4, 4), np.uint8))


def test_huge_file_is_shrunk_while_decoding_and_the_note_names_its_true_size(tmp_path):
    path = tmp_path / "huge.png"
    Image.fromarray(np.zeros((5000, 4200), np.uint8)).save(path)
    clean = to_rgb(str(path))
    assert max(clean.rgb.shape[:2]) == MAX_SIDE
    assert clean.notes == [f"The image (4200×5000) was downscaled to {clean.rgb.shape[1]}×{MAX_SIDE}."]


# --------------------------------------------------------------------------- decompression bombs
def test_pixel_cap_is_at_or_below_pils_default_and_pils_own_guard_matches_it():
    assert images.MAX_PIXELS <= PIL_DEFAULT_MAX_PIXELS
    # PIL refuses only above twice its limit: code that decodes before ours (gr.Image) stops at the cap
    assert 2 * Image.MAX_IMAGE_PIXELS <= images.MAX_PIXELS


def test_image_over_the_cap_is_refused_before_decoding_with_a_true_message(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)
    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((101, 100), np.uint8)).save(path)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(1))
    with pytest.raises(BadImage, match=r"100×101 pixels .*megapixels are accepted"):
        to_rgb(str(path))
    assert not decoded
    with pytest.raises(BadImage, match="megapixels"):
        to_grey(np.zeros((101, 100), np.uint16))


# --------------------------------------------------------------------------- 16-bit, to_grey
def twelve_bit_gradient():
    return (np.arange(40 * 50).reshape(40, 50) * 2 % 4096).astype(np.uint16)  # 0..4094 in 16-bit


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_sixteen_bit_file_is_scaled_by_its_own_range(tmp_path, suffix):
    raw = twelve_bit_gradient()
    path = tmp_path / f"cells.{suffix}"
    Image.fromarray(raw).save(path)
    assert Image.open(path).mode.startswith("I;16")
    clean = to_grey(str(path))
    expected = (raw.astype(np.float64) - raw.min()) / (raw.max() - raw.min())
    np.testing.assert_allclose(clean.grey, expected, atol=1e-6)
    assert clean.grey.dtype == np.float32 and clean.rgb.shape == (40, 50, 3)
    assert "12-bit" in clean.notes[0]
    # what the 8-bit path would have made of it: nearly black (4095/65535 of full scale)
    assert to_rgb(str(path)).rgb.max() <= 16


def test_bright_sixteen_bit_image_does_not_saturate(tmp_path):
    raw = (60000 + np.arange(64 * 64).reshape(64, 64) % 5000).astype(np.uint16)
    path = tmp_path / "bright.tif"
    Image.fromarray(raw).save(path)
    grey = to_grey(str(path)).grey
    assert grey.min() == 0.0 and grey.max() == 1.0 and len(np.unique(grey)) > 1000


def test_sixteen_bit_arrays_and_big_images_are_downscaled(tmp_path):
    raw = np.tile(twelve_bit_gradient(), (60, 60))  # 2400 x 3000
    clean = to_grey(raw, max_side=512)
    assert max(clean.grey.shape) == 512 and 0.0 <= clean.grey.min() and clean.grey.max() <= 1.0
    assert any("downscaled" in note for note in clean.notes)


def test_eight_bit_grey_matches_opencv(tmp_path):
    cv2 = pytest.importorskip("cv2")
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    clean = to_grey(str(path))
    opencv = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    np.testing.assert_allclose(clean.grey, opencv, atol=1 / 255 + 1e-6)  # its SIMD rounding differs by <= 1 level
    np.testing.assert_array_equal(clean.rgb, rgb)  # overlays are drawn on the colour image


def test_constant_sixteen_bit_image_and_bad_inputs():
    assert to_grey(np.full((20, 20), 1000, np.uint16)).grey.max() == 0.0
    with pytest.raises(BadImage, match="No image"):
        to_grey(None)
    with pytest.raises(BadImage, match="at least"):
        to_grey(np.zeros((3, 300), np.uint16))
