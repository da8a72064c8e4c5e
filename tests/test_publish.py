"""`python -m papers.publish --dry-run` lists what would go, offline."""
import pytest
import torch
from safetensors.torch import save_file

from papers import checkpoints, publish
from papers.checkpoints import Checkpoint


def test_dry_run_lists_local_and_missing(tmp_path, monkeypatch, capsys):
    local = tmp_path / "w"
    local.mkdir()
    monkeypatch.setenv("GALLERY_WEIGHTS_DIR", str(local))
    save_file({"w": torch.zeros(2)}, str(local / "here.safetensors"))
    declared = [Checkpoint(name="here", filename="here.safetensors", reproduce="python -m papers.train x"),
                Checkpoint(name="away", filename="away.safetensors")]
    monkeypatch.setattr(publish, "declared_checkpoints", lambda: declared)
    publish.main(["--repo", "me/gallery", "--dry-run"])
    out = capsys.readouterr().out
    assert "upload here.safetensors" in out and "skip   away.safetensors" in out
    assert "1 file(s)" in out


def test_model_card_has_hash_and_reproduce(tmp_path):
    path = tmp_path / "a.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    card = publish.model_card("me/gallery", [(Checkpoint(name="a", filename="a.safetensors",
                                                         reproduce="python -m papers.train a"), path)])
    assert checkpoints.sha256_file(path) in card and "python -m papers.train a" in card
    assert "GALLERY_HUB_REPO=me/gallery" in card


def test_declared_checkpoints_are_unique_and_complete():
    declared = publish.declared_checkpoints()
    names = [c.filename for c in declared]
    assert len(names) == len(set(names))
    for ckpt in declared:
        assert ckpt.name and ckpt.filename.endswith(".safetensors")
        assert ckpt.repo_id or ckpt.upstream_url or ckpt.reproduce, f"{ckpt.name}: no source"


def test_every_shipped_checkpoint_declares_its_true_hash():
    for ckpt in publish.declared_checkpoints():
        path = checkpoints.REPO_WEIGHTS_DIR / ckpt.filename
        if path.is_file():
            assert ckpt.sha256 == checkpoints.sha256_file(path), f"{ckpt.filename}: sha256 out of date"
            assert ckpt.reproduce.startswith("python -m papers.train "), f"{ckpt.filename}: no reproduce command"
