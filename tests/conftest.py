"""Test settings: offline, private caches, CPU, no analytics. Runs before anything imports
huggingface_hub (which reads its environment at import time)."""
import os
import tempfile

_TMP = tempfile.mkdtemp(prefix="gallery-tests-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = os.path.join(_TMP, "hf-cache")
os.environ["GALLERY_CACHE_DIR"] = os.path.join(_TMP, "gallery-cache")
os.environ["GALLERY_DEVICE"] = "cpu"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.pop("GALLERY_WEIGHTS_DIR", None)
os.environ.pop("GALLERY_HUB_REPO", None)

import pathlib  # noqa: E402

import pytest  # noqa: E402

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_dir() -> pathlib.Path:
    """../shared (reference weights and data); tests that need it skip cleanly without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (a user's fresh clone has none)")
    return SHARED
