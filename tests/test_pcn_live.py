"""PCN's live mode: the streaming handler called as Gradio calls it, frame after frame."""
import numpy as np
import pytest
from PIL import Image

from demos import pcn as demo
from papers import pcn
from papers.checkpoints import is_available_locally


@pytest.fixture
def turned_faces() -> np.ndarray:
    if not all(is_available_locally(c) for c in pcn.CHECKPOINTS):
        pytest.skip("PCN weights are not available locally")
    return np.asarray(Image.open(demo.example_paths("pcn_turned_faces.jpg")[0]).convert("RGB"))


def test_a_stream_of_frames_finds_the_turned_faces_and_reports_the_frame_rate(turned_faces):
    finished = []
    for _ in range(4):  # a burst of frames, each sees the per-visitor state of the last
        drawn, text, finished = demo.live_frame(turned_faces, demo.DEFAULTS.min_face, finished)
    assert drawn.shape == turned_faces.shape and not np.array_equal(drawn, turned_faces)  # boxes drawn
    expected = len(pcn.run_pcn(turned_faces).faces)
    assert expected >= 3 and f"**{expected} face(s)**" in text
    assert len(finished) == 4 and "frames/s** shown" in text


def test_frames_of_other_sizes_black_frames_and_no_frame_do_not_break_the_stream(turned_faces):
    big = np.zeros((1080, 1920, 3), np.uint8)
    drawn, text, _ = demo.live_frame(big, 40, [])
    assert max(drawn.shape[:2]) == demo.LIVE_SIDE and "**0 face(s)**" in text  # downscaled, nothing found
    drawn, text, _ = demo.live_frame(np.zeros((120, 90, 4), np.uint8), 40, [])  # RGBA, tiny
    assert drawn.shape == (120, 90, 3)
    assert demo.live_frame(None, 40, None)[0] is None
    drawn, text, finished = demo.live_frame(turned_faces[::2, ::2], 40, [])  # a smaller frame next
    assert drawn.shape == turned_faces[::2, ::2].shape and len(finished) == 1


def test_old_frames_leave_the_frame_rate_window():
    old = [0.0, 1.0]  # monotonic times long past
    *_, finished = demo.live_frame(None, 40, old)
    assert finished == []
