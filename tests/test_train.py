"""`python -m papers.train` writes to the cache (or --out), never silently over weights/."""
import sys
import types

from papers import checkpoints, train


def _fake_paper(monkeypatch):
    module = types.ModuleType("papers.fake_paper")

    def fake_train(variant, out_dir):
        (out_dir / "fake.safetensors").write_bytes(b"weights")
        return {"variant": variant}

    module.train = fake_train
    monkeypatch.setitem(sys.modules, "papers.fake_paper", module)


def test_train_writes_to_the_cache_by_default_not_to_weights(monkeypatch, tmp_path, capsys):
    _fake_paper(monkeypatch)
    monkeypatch.setenv("GALLERY_CACHE_DIR", str(tmp_path / "cache"))
    train.main(["fake_paper:small"])
    assert (tmp_path / "cache" / "trained" / "fake.safetensors").is_file()
    assert not (checkpoints.REPO_WEIGHTS_DIR / "fake.safetensors").exists()
    out = capsys.readouterr().out
    assert '"variant": "small"' in out and "GALLERY_WEIGHTS_DIR=" in out


def test_train_honours_out(monkeypatch, tmp_path):
    _fake_paper(monkeypatch)
    train.main(["fake_paper", "--out", str(tmp_path / "elsewhere")])
    assert (tmp_path / "elsewhere" / "fake.safetensors").is_file()
