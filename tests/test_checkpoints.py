"""The weights loader end to end: local dir, Hub cache (real huggingface_hub, offline),
upstream file:// with conversion and sha256, hand-supplied upstream file, bad hash, missing;
full hashes and pinned revisions for every declared checkpoint; the cache's own records."""
import importlib
import json
import pkgutil
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


PINNED = "0123456789abcdef0123456789abcdef01234567"


def _lay_out_hub_cache(repo_id, filename, payload: Path, revision=PINNED):
    """Write `payload` into the HF cache exactly as hf_hub_download lays it out."""
    root = Path(os.environ["HF_HUB_CACHE"]) / ("models--" + repo_id.replace("/", "--"))
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
                      hub_filename="model.safetensors", revision=PINNED, hub_sha256=sha(payload),
                      convert=rename_foreign)
    assert ckpt.fully_verified
    state = load_state_dict(ckpt, device="cpu")
    assert set(state) == {"conv.weight", "conv.bias"}
    assert (cache / "foreign.safetensors").is_file()
    record = json.loads((cache / "foreign.safetensors.sha256.json").read_text())
    assert record == {"sha256": sha(cache / "foreign.safetensors"), "source_sha256": sha(payload),
                      "source": "foreign"}


def test_hub_foreign_file_that_changed_upstream_is_refused(dirs, tmp_path):
    """A pinned hash catches a changed file even when the Hub's own blob name is consistent."""
    payload = tmp_path / "model.safetensors"
    save_file({f"features.0.{k.split('.')[1]}": v for k, v in tiny_state(2).items()}, str(payload))
    _lay_out_hub_cache("org/changed-model", "model.safetensors", payload)
    ckpt = Checkpoint(name="changed", filename="changed.safetensors", repo_id="org/changed-model",
                      hub_filename="model.safetensors", revision=PINNED, hub_sha256="a" * 64,
                      convert=rename_foreign)
    with pytest.raises(WeightsUnavailable, match="sha256 mismatch"):
        load_state_dict(ckpt, device="cpu")


def test_hub_foreign_file_is_read_at_the_pinned_revision(dirs, tmp_path):
    old, new = tmp_path / "old.safetensors", tmp_path / "new.safetensors"
    save_file({f"features.0.{k.split('.')[1]}": v for k, v in tiny_state(3).items()}, str(old))
    save_file({f"features.0.{k.split('.')[1]}": v for k, v in tiny_state(4).items()}, str(new))
    _lay_out_hub_cache("org/moving", "model.safetensors", old, revision=PINNED)
    _lay_out_hub_cache("org/moving", "model.safetensors", new, revision="f" * 40)  # main moved on
    ckpt = Checkpoint(name="moving", filename="moving.safetensors", repo_id="org/moving",
                      hub_filename="model.safetensors", revision=PINNED, hub_sha256=sha(old),
                      convert=rename_foreign)
    assert torch.equal(load_state_dict(ckpt, device="cpu")["conv.weight"], tiny_state(3)["conv.weight"])


def test_foreign_checkpoint_without_a_pin_is_not_fully_verified():
    loose = Checkpoint(name="loose", filename="x.safetensors", repo_id="org/x", hub_filename="model.safetensors")
    assert not loose.fully_verified
    assert any("pinned commit" in gap for gap in loose.verification_gaps())
    assert any("full sha256" in gap for gap in loose.verification_gaps())


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


def test_upstream_hash_prefix_is_checked_but_not_called_verified(dirs, tmp_path, caplog):
    upstream = foreign_pickle(tmp_path / "net.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      upstream_sha256=sha(upstream)[:8], convert=rename_foreign)
    assert not ckpt.fully_verified and "8-digit sha256 prefix only" in ckpt.verification_gaps()[0]
    with caplog.at_level("WARNING", logger="papers.checkpoints"):
        assert "conv.weight" in load_state_dict(ckpt, device="cpu")
    assert "not fully verified" in caplog.text
    wrong_prefix = Checkpoint(name="net2", filename="net2.safetensors", upstream_url=upstream.as_uri(),
                              upstream_sha256="0" * 8 if not sha(upstream).startswith("0" * 8) else "1" * 8)
    with pytest.raises(WeightsUnavailable, match="sha256 mismatch"):
        load_state_dict(wrong_prefix, device="cpu")


def test_upstream_file_without_a_declared_hash_is_not_used(dirs, tmp_path):
    upstream = foreign_pickle(tmp_path / "net.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      convert=rename_foreign)
    with pytest.raises(WeightsUnavailable, match="not available"):
        load_state_dict(ckpt, device="cpu")


def test_cache_entry_is_verified_once_per_process(dirs, tmp_path, monkeypatch):
    upstream = foreign_pickle(tmp_path / "net.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      upstream_sha256=sha(upstream), convert=rename_foreign)
    load_state_dict(ckpt, device="cpu")
    hashed = []
    real = checkpoints.sha256_file
    monkeypatch.setattr(checkpoints, "sha256_file", lambda p: hashed.append(Path(p).name) or real(p))
    for _ in range(3):
        load_state_dict(ckpt, device="cpu")
    assert hashed.count("net.safetensors") <= 1


def test_corrupt_or_unrecorded_cache_entry_is_rebuilt_from_its_source(dirs, tmp_path):
    _, cache = dirs
    upstream = foreign_pickle(tmp_path / "net.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      upstream_sha256=sha(upstream), convert=rename_foreign)
    load_state_dict(ckpt, device="cpu")
    save_file({"conv.weight": torch.zeros(4, 3, 3, 3), "conv.bias": torch.zeros(4)}, str(cache / "net.safetensors"))
    state = load_state_dict(ckpt, device="cpu")  # the tampered file fails its record: rebuilt
    assert torch.equal(state["conv.weight"], tiny_state()["conv.weight"])
    (cache / "net.safetensors.sha256.json").unlink()
    save_file({"conv.weight": torch.zeros(4, 3, 3, 3), "conv.bias": torch.zeros(4)}, str(cache / "net.safetensors"))
    assert torch.equal(load_state_dict(ckpt, device="cpu")["conv.weight"], tiny_state()["conv.weight"])


def test_cache_entry_from_another_source_file_is_not_used(dirs, tmp_path):
    """Pinning a new upstream file must not keep serving the old conversion."""
    first, second = foreign_pickle(tmp_path / "a.pth", seed=0), foreign_pickle(tmp_path / "b.pth", seed=5)
    old = Checkpoint(name="net", filename="net.safetensors", upstream_url=first.as_uri(),
                     upstream_sha256=sha(first), convert=rename_foreign)
    load_state_dict(old, device="cpu")
    new = Checkpoint(name="net", filename="net.safetensors", upstream_url=second.as_uri(),
                     upstream_sha256=sha(second), convert=rename_foreign)
    assert torch.equal(load_state_dict(new, device="cpu")["conv.weight"], tiny_state(5)["conv.weight"])


def test_our_conversion_without_a_declared_hash_is_not_taken_from_the_hub(dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("GALLERY_HUB_REPO", "someone/gallery-weights")
    impostor = tmp_path / "net.safetensors"
    save_file({"conv.weight": torch.zeros(4, 3, 3, 3), "conv.bias": torch.zeros(4)}, str(impostor))
    _lay_out_hub_cache("someone/gallery-weights", "net.safetensors", impostor)
    upstream = foreign_pickle(tmp_path / "net.pth")
    ckpt = Checkpoint(name="net", filename="net.safetensors", upstream_url=upstream.as_uri(),
                      upstream_sha256=sha(upstream), convert=rename_foreign)
    assert torch.equal(load_state_dict(ckpt, device="cpu")["conv.weight"], tiny_state()["conv.weight"])


def _all_declared_checkpoints() -> list[Checkpoint]:
    import papers
    found = {}
    for info in pkgutil.iter_modules(papers.__path__):
        module = importlib.import_module(f"papers.{info.name}")
        for value in vars(module).values():
            values = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if isinstance(item, Checkpoint):
                    found[item.filename] = item
    return list(found.values())


# Files for which no trustworthy public record of the full sha256 was found: the prefix in the
# name is still checked, and the checkpoint reports itself as not fully verified.
KNOWN_PREFIX_ONLY = {"xception_imagenet1k_keras.safetensors"}


def test_every_declared_checkpoint_pins_full_hashes():
    declared = _all_declared_checkpoints()
    assert len(declared) >= 10
    gaps = {c.filename: c.verification_gaps() for c in declared if not c.fully_verified}
    assert set(gaps) == KNOWN_PREFIX_ONLY, gaps
    for ckpt in declared:
        if ckpt.is_foreign_on_hub:
            assert len(ckpt.revision) == 40 and checkpoints.is_full_sha256(ckpt.hub_sha256), ckpt.name
        if ckpt.upstream_sha256 and ckpt.upstream_filename and ckpt.filename not in KNOWN_PREFIX_ONLY:
            stem = Path(ckpt.upstream_filename).stem.rsplit("-", 1)[-1]
            if len(stem) >= 8 and all(ch in "0123456789abcdef" for ch in stem):  # torchvision-style name
                assert ckpt.upstream_sha256.startswith(stem), ckpt.name


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


def test_messages_name_weight_dirs_without_absolute_server_paths(dirs):
    local, cache = dirs
    ckpt = Checkpoint(name="Big", filename="big.safetensors", upstream_url="file:///nonexistent/big-0123abcd.pth",
                      upstream_sha256="0123abcd")
    message = checkpoints.missing_message(ckpt, ["upstream big-0123abcd.pth: URLError"])
    assert "$GALLERY_WEIGHTS_DIR" in message and "weights/ folder" in message
    assert str(local) not in message and str(checkpoints.REPO_ROOT) not in message
    (local / "big.safetensors").write_bytes(b"not the file")
    mismatch = Checkpoint(name="Big", filename="big.safetensors", sha256="0" * 64)
    with pytest.raises(WeightsUnavailable) as err:
        load_state_dict(mismatch, device="cpu")
    assert "$GALLERY_WEIGHTS_DIR/big.safetensors" in str(err.value) and str(local) not in str(err.value)


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
