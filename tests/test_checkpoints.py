"""The weights loader end to end: local dir, Hub cache (real huggingface_hub, offline),
upstream file:// with conversion and sha256, hand-supplied upstream file, bad hash, missing."""
import hashlib
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from papers import checkpoints
from papers.checkpoints import Checkpoint, WeightsUnavailable, load_state_dict


def tiny_state(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"conv.weight": torch.randn(4, 3, 3, 3, generator=g), "conv.bias": torch.randn(4, generator=g)}


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rename_foreign(state):
    return {k.replace("features.0.", "conv."): v for k, v in state.items()}


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Empty local weights dir, cache and Hub cache; the repo's weights/ dir is hidden."""
    local, cache = tmp_path / "local", tmp_path / "cache"
    local.mkdir()
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(local))
    monkeypatch.setenv("GALLERY_CACHE_DIR", str(cache))
    monkeypatch.setattr(checkpoints, "REPO_WEIGHTS_DIR", tmp_path / "no-repo-weights")
    return local, cache


def foreign_pickle(path, seed=0):
    torch.save({f"features.0.{k.split('.')[1]}": v for k, v in tiny_state(seed).items()}, path)
    return path


def test_local_dir_hit_with_hash(dirs):
    local, _ = dirs
    save_file(tiny_state(), str(local / "tiny.safetensors"))
    ckpt = Checkpoint(name="tiny", filename="tiny.safetensors", sha256=sha(local / "tiny.safetensors"))
    state = load_state_dict(ckpt, device="cpu")
    assert torch.equal(state["conv.weight"], tiny_state()["conv.weight"])


def test_local_file_with_wrong_hash_is_refused(dirs):
    local, _ = dirs
    save_file(tiny_state(), str(local / "tiny.safetensors"))
    ckpt = Checkpoint(name="tiny", filename="tiny.safetensors", sha256="0" * 64)
    with pytest.raises(WeightsUnavailable, match="sha256 mismatch"):
        load_state_dict(ckpt, device="cpu")


def _lay_out_hub_cache(repo_id, filename, payload: Path):
    """Write `payload` into the HF cache exactly as hf_hub_download lays it out."""
    root = Path(os.environ["HF_HUB_CACHE"]) / ("models--" + repo_id.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    blob = root / "blobs" / sha(payload)
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(payload.read_bytes())
    snapshot = root / "snapshots" / revision / filename
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    if not snapshot.exists():
        snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(revision)


def test_hub_cache_offline_for_our_repo(dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("GALLERY_HUB_REPO", "someone/gallery-weights")
    payload = tmp_path / "ours.safetensors"
    save_file(tiny_state(1), str(payload))
    _lay_out_hub_cache("someone/gallery-weights", "ours.safetensors", payload)
    ckpt = Checkpoint(name="ours", filename="ours.safetensors", sha256=sha(payload))
    state = load_state_dict(ckpt, device="cpu")
    assert torch.equal(state["conv.bias"], tiny_state(1)["conv.bias"])


def test_hub_foreign_repo_is_converted_and_cached(dirs, tmp_path):
    _, cache = dirs
    payload = tmp_path / "model.safetensors"
    save_file({f"features.0.{k.split('.')[1]}": v for k, v in tiny_state(2).items()}, str(payload))
    _lay_out_hub_cache("org/foreign-model", "model.safetensors", payload)
    ckpt = Checkpoint(name="foreign", filename="foreign.safetensors", repo_id="org/foreign-model",
                      hub_filename="model.safetensors", convert=rename_foreign)
    state = load_state_dict(ckpt, device="cpu")
    assert set(state) == {"conv.weight", "conv.bias"}
    assert (cache / "foreign.safetensors").is_file()


def test_upstream_file_url_verified_converted_cached(dirs, tmp_path):
    _, cache = dirs
    upstream = foreign_pickle(tmp_path / "net-abc.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      upstream_sha256=sha(upstream), convert=rename_foreign)
    state = load_state_dict(ckpt, device="cpu")
    assert torch.equal(state["conv.weight"], tiny_state()["conv.weight"])
    assert (cache / "net.safetensors").is_file()
    upstream.unlink()  # the second load needs no upstream: the cache (a local dir) has it
    assert torch.equal(load_state_dict(ckpt, device="cpu")["conv.bias"], tiny_state()["conv.bias"])


def test_upstream_hash_prefix_like_torchvision(dirs, tmp_path):
    upstream = foreign_pickle(tmp_path / "net.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      upstream_sha256=sha(upstream)[:8], convert=rename_foreign)
    assert "conv.weight" in load_state_dict(ckpt, device="cpu")


def test_upstream_file_dropped_in_local_dir(dirs):
    local, cache = dirs
    foreign_pickle(local / "net-abc.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors",
                      upstream_url="https://example.invalid/models/net-abc.pth",
                      upstream_sha256=sha(local / "net-abc.pth"), convert=rename_foreign)
    assert "conv.bias" in load_state_dict(ckpt, device="cpu")
    assert (cache / "net.safetensors").is_file()


def test_upstream_sha_mismatch_is_clear_and_caches_nothing(dirs, tmp_path):
    _, cache = dirs
    upstream = foreign_pickle(tmp_path / "net.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      upstream_sha256="f" * 64, convert=rename_foreign)
    with pytest.raises(WeightsUnavailable, match="sha256 mismatch"):
        load_state_dict(ckpt, device="cpu")
    assert not (cache / "net.safetensors").exists()
    assert not list(cache.glob("*.download"))


def test_missing_checkpoint_says_what_and_how(dirs):
    ckpt = Checkpoint(name="AlexNet ImageNet", filename="alexnet.safetensors", size_bytes=244_000_000,
                      upstream_url="file:///nonexistent/alexnet-owt-7be5be79.pth", license="BSD-3-Clause")
    with pytest.raises(WeightsUnavailable) as err:
        load_state_dict(ckpt, device="cpu")
    message = str(err.value)
    assert "AlexNet ImageNet" in message and "244.0 MB" in message
    assert "alexnet-owt-7be5be79.pth" in message and "Hub" in message


def test_weights_load_onto_the_chosen_device_by_default(dirs):
    local, _ = dirs
    save_file(tiny_state(), str(local / "tiny.safetensors"))
    state = load_state_dict(Checkpoint(name="tiny", filename="tiny.safetensors"))
    assert state["conv.weight"].device == checkpoints.get_device()


def test_device_override(monkeypatch):
    monkeypatch.setenv("GALLERY_DEVICE", "cpu")
    assert checkpoints.get_device().type == "cpu"


def test_cached_model_builds_once():
    calls = []

    @checkpoints.cached_model
    def build(size):
        calls.append(size)
        return object()

    assert build(3) is build(3) and build(4) is not build(3)
    assert calls == [3, 4]


def test_gpu_decorator_is_a_no_op_without_spaces():
    def f(x):
        return x + 1
    assert checkpoints.gpu(f)(1) == 2 and checkpoints.gpu(duration=5)(f)(1) == 2
