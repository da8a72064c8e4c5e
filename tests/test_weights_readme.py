"""weights/README.md states the true sha256 of every file shipped in weights/ (several engineers
edit its rows: a stale copy must not slip through)."""
import re

from papers.checkpoints import REPO_WEIGHTS_DIR, sha256_file

README = REPO_WEIGHTS_DIR / "README.md"


def _rows():
    for line in README.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        files = [c for c in cells if re.fullmatch(r"[\w.-]+\.safetensors", c)]
        hashes = [c for c in cells if re.fullmatch(r"[0-9a-f]{64}", c)]
        if files and hashes and (REPO_WEIGHTS_DIR / files[0]).is_file():
            yield files[0], hashes[0]


def test_every_shipped_file_has_a_row_with_its_true_sha256():
    rows = dict(_rows())
    shipped = {p.name for p in REPO_WEIGHTS_DIR.glob("*.safetensors")}
    assert shipped <= set(rows), f"no row with a sha256 for {shipped - set(rows)}"
    wrong = {name: h for name, h in rows.items() if sha256_file(REPO_WEIGHTS_DIR / name) != h}
    assert not wrong, f"stale sha256 in weights/README.md: {sorted(wrong)}"
