"""Nothing outside the allowed folders is served, uploads are size-limited, and weights are only
ever read as safetensors or through torch.load(weights_only=True) after a sha256 check."""
import re
import urllib.error
import urllib.request
from pathlib import Path

import gradio as gr
import pytest

import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def served():
    with gr.Blocks() as blocks:
        gr.Image(type="filepath", label="upload")
    blocks.queue()
    blocks.launch(prevent_thread_lock=True, quiet=True, max_file_size=app.MAX_UPLOAD, ssr_mode=False)
    yield blocks.local_url
    blocks.close()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize("target", ["/etc/passwd", str(ROOT / "app.py"), str(ROOT / "weights" / "README.md"),
                                    "../../../../etc/passwd"])
def test_files_outside_the_allowed_folders_are_not_served(served, target):
    assert status(f"{served}gradio_api/file={target}") in (403, 404)


def test_uploads_over_the_limit_are_refused(served, tmp_path):
    import requests

    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (21 * 2**20))
    with open(big, "rb") as f:
        response = requests.post(f"{served}gradio_api/upload", files={"files": f}, timeout=60)
    assert response.status_code == 413


def test_weights_are_never_unpickled_unsafely():
    for path in list((ROOT / "papers").glob("*.py")) + list((ROOT / "demos").glob("*.py")):
        text = path.read_text()
        assert "import pickle" not in text, path
        for match in re.finditer(r"torch\.load\(", text):
            call = text[match.start(): match.start() + 200]
            assert "weights_only=True" in call, f"{path.name}: {call}"
