"""Every kind of bad or odd image input becomes clean RGB uint8 or a readable BadImage."""
import io

import numpy as np
import pytest
from PIL import Image

from papers.images import MAX_SIDE, BadImage, to_rgb


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
