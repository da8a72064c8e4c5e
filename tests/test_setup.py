"""The set-up a new user meets: the README's commands are the ones CI runs."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "python3 -m pytest -q"
    assert f"\n{test_command}\n" in readme and f"\n{test_command}\n" in ci
    assert "pip install -r requirements.txt\npython app.py\n" in readme


def test_requirements_admit_the_pinned_torch_and_gradio_6():
    reqs = (ROOT / "requirements.txt").read_text()
    assert "torch>=2.4,<=2.14.1" in reqs and "torchvision>=0.19,<=0.29.1" in reqs
    assert "gradio>=6.0,<7" in reqs and "opencv-python-headless" in reqs


def test_weights_folder_stays_small_and_every_file_is_in_the_table():
    weights = ROOT / "weights"
    files = list(weights.glob("*.safetensors"))
    assert sum(f.stat().st_size for f in files) < 50 * 2**20
    table = (weights / "README.md").read_text()
    for f in files:
        assert f.name in table, f"{f.name} missing from weights/README.md"
