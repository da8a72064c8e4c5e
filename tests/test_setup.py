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


# Imported only where present, never required: ZeroGPU's `spaces` exists on Hugging Face Spaces.
OPTIONAL_IMPORTS = {"spaces"}


def _declared_requirements() -> set[str]:
    import re

    names = set()
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line:
                names.add(re.split(r"[<>=!~;\[ ]", line)[0].lower().replace("_", "-"))
    return names


def _imported_top_level_modules() -> dict[str, str]:
    """Every module imported (at any depth: inside functions too) by the project's code, tests
    and benchmarks -> one file that imports it."""
    import ast

    found = {}
    files = [ROOT / "app.py", *ROOT.glob("papers/*.py"), *ROOT.glob("demos/*.py"), *ROOT.glob("tests/*.py"),
             *ROOT.glob("bench/*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "importorskip"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names = [node.args[0].value]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], path.relative_to(ROOT).as_posix())
    return found


def test_every_imported_package_is_declared_in_a_requirements_file():
    """A fresh virtualenv gets only what the requirement files name: everything the code, the
    tests and the benchmarks import must be there (the standard library and our own packages
    aside), declared directly, not merely pulled in by something else."""
    import importlib.metadata
    import sys

    ours = {"app", "papers", "demos", "bench", "tests", "conftest"} | {p.stem for p in ROOT.glob("tests/*.py")}
    declared = _declared_requirements()
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module, where in sorted(_imported_top_level_modules().items()):
        if module in sys.stdlib_module_names or module in ours or module in OPTIONAL_IMPORTS:
            continue
        names = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not names & declared:
            missing.append(f"{module} (imported by {where}; distribution {sorted(names)})")
    assert not missing, "not in requirements*.txt: " + "; ".join(missing)
