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


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Tests never download: urlopen reaches only file:// and loopback (so a test run on an
    online machine cannot start a 244 MB weights download)."""
    import urllib.error
    import urllib.parse
    import urllib.request

    real_urlopen = urllib.request.urlopen

    def guarded(url, *args, **kwargs):
        target = urllib.parse.urlparse(url if isinstance(url, str) else url.full_url)
        if target.scheme not in ("file", "") and target.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise urllib.error.URLError(f"tests are offline: {target.geturl()}")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)


@pytest.fixture(autouse=True)
def torch_threads_unchanged():
    """Handlers never change process-wide torch state: every test (most call endpoints the way
    Gradio does) must leave torch's intra-op thread count as it found it."""
    import torch

    before = torch.get_num_threads()
    yield
    assert torch.get_num_threads() == before, "a handler or helper changed torch's thread count"


@pytest.fixture(autouse=True)
def translations_not_frozen():
    """A test that runs app.main() hands the translations to launch (demos.i18n freezes new
    keys); the next test builds a fresh app, as a fresh process would."""
    yield
    from demos import i18n

    i18n._FROZEN = False


@pytest.fixture(scope="module")
def one_torch_thread():
    """For a module of many tiny ops (step-by-step decoding): on a loaded machine extra threads
    only wait. Module scope, restored afterwards (use: pytestmark = usefixtures)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
