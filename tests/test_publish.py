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
            assert ckpt.reproduce.startswith(("python -m papers.train ", "python -m papers.convert ")), \
                f"{ckpt.filename}: no reproduce command"


# --------------------------------------------------------------------------- --space
import fnmatch  # noqa: E402
import importlib.metadata  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

GRADIO = importlib.metadata.version("gradio")
# A gallery-shaped tree: what a Space needs, and everything that must stay behind.
SHIPPED = [
    "app.py", "requirements.txt", "README.md", "LICENSE",
    "demos/__init__.py", "demos/stn.py", "demos/assets/astronaut.jpg", "demos/assets/LICENSES.md",
    "papers/__init__.py", "papers/stn.py", "weights/stn_cnn.safetensors", "weights/README.md",
    "results/stn.json", "docs/screenshot.png",
]
LEFT_BEHIND = [
    "tests/test_stn.py", "tests/conftest.py", "bench/RESULTS.md", "bench/run.py", "bench/screens/stn.png",
    "docs/ADDING_A_TAB.md", ".ci/run", ".git/config", ".git/objects/ab/cdef", ".gitignore",
    ".gradio/cached_examples/x.png", ".pytest_cache/v/cache", "flagged/log.csv",
    "papers/__pycache__/stn.cpython-311.pyc", "demos/__pycache__/stn.cpython-311.pyc", "papers/old.pyc",
    "demos/assets/.DS_Store", "weights/unet_cells.safetensors.download", "results/stn.json.tmp",
    "weights/alexnet-owt-7be5be79.pth", "requirements-test.txt", "pytest.ini",
]


def card(sdk_version=GRADIO, models=None, python_version='"3.11"', sdk="gradio") -> str:
    models = publish.external_hub_repos() if models is None else models
    listed = "".join(f"\n  - {m}" for m in models) if models else " []"
    return (f"---\ntitle: Gallery\nsdk: {sdk}\nsdk_version: {sdk_version}\napp_file: app.py\n"
            f"python_version: {python_version}\nshort_description: Papers, one tab each\n"
            f"models:{listed}\n---\n# Gallery\n\n![shot](docs/screenshot.png)\n")


@pytest.fixture
def gallery(tmp_path, monkeypatch) -> Path:
    """A gallery checkout in tmp_path; `papers.publish` deploys from it."""
    for rel in SHIPPED + LEFT_BEHIND:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x" * 10)
    (tmp_path / "README.md").write_text(card())
    (tmp_path / "requirements.txt").write_text("torch>=2.4\ngradio>=6.0,<7  # the UI\n")
    monkeypatch.setattr(publish, "REPO_ROOT", tmp_path)
    return tmp_path


@pytest.fixture
def no_sockets(monkeypatch):
    """Any network connection fails the test (the dry run must not need one)."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"network use in an offline path: {args}")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def listed(out: str) -> set[str]:
    return {line.split()[0] for line in out.splitlines() if line.startswith("  ")}


def test_space_gets_exactly_what_it_runs(gallery, no_sockets, capsys):
    assert {p.as_posix() for p in publish.space_files(gallery)} == set(SHIPPED)
    publish.main(["--space", "me/gallery", "--dry-run"])
    out = capsys.readouterr().out
    assert listed(out) == set(SHIPPED)
    total = sum((gallery / rel).stat().st_size for rel in SHIPPED)
    assert f"{len(SHIPPED)} files, {total / 1e3:.1f} kB in all" in out
    assert "https://huggingface.co/spaces/me/gallery" in out and "nothing sent" in out


def test_dry_run_on_this_checkout(no_sockets, capsys):
    """The real tree: passes its checks, sends every shipped checkpoint, result and asset, and no
    tests, benchmarks, CI or caches."""
    publish.main(["--space", "me/gallery", "--dry-run"])
    files = listed(capsys.readouterr().out)
    root = checkpoints.REPO_ROOT
    for required in ("app.py", "requirements.txt", "README.md", "demos/__init__.py", "papers/checkpoints.py"):
        assert required in files
    for folder, pattern in (("weights", "*.safetensors"), ("results", "*.json"), ("demos/assets", "*.*")):
        for path in (root / folder).glob(pattern):
            assert path.relative_to(root).as_posix() in files, path
    assert any(f.startswith("weights/") and f.endswith(".safetensors") for f in files)
    for name in files:
        assert not name.startswith(("tests/", "bench/", ".ci/", ".git/", ".gradio/")), name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
    total = sum((root / name).stat().st_size for name in files)
    assert total < publish.SPACE_REPO_LIMIT_BYTES


def test_wrong_sdk_version_stops_the_dry_run(gallery, no_sockets, capsys):
    (gallery / "README.md").write_text(card(sdk_version="5.0.0"))
    with pytest.raises(SystemExit) as stop:
        publish.main(["--space", "me/gallery", "--dry-run"])
    assert isinstance(stop.value.code, str)  # a message, exit status 1
    assert f"sdk_version is '5.0.0' but the installed Gradio is {GRADIO}" in stop.value.code


@pytest.mark.parametrize("readme, complaint", [
    (card(sdk="streamlit"), "sdk is 'streamlit'"),
    (card(python_version="3.10"), "python_version is 3.1"),  # YAML reads the unquoted 3.10 as 3.1
    (card(models=["timm/vgg16.tv_in1k"]), "models is ['timm/vgg16.tv_in1k']"),
    (card().replace("app_file: app.py", "app_file: main.py"), "app_file 'main.py'"),
    (card().replace("docs/screenshot.png", "docs/other.png"), "shows 'docs/other.png'"),
    ("# no front matter\n", "no front matter"),
])
def test_space_card_problems_are_named(gallery, readme, complaint):
    (gallery / "README.md").write_text(readme)
    problems = publish.check_space_card(gallery, publish.space_files(gallery))
    assert any(complaint in p for p in problems), problems
    (gallery / "README.md").write_text(card())
    assert publish.check_space_card(gallery, publish.space_files(gallery)) == []


def test_requirements_must_admit_the_sdk_version(gallery):
    (gallery / "requirements.txt").write_text("gradio<5\n")
    problems = publish.check_space_card(gallery, publish.space_files(gallery))
    assert any("excludes the sdk_version" in p for p in problems), problems


def test_models_list_is_the_external_hub_repos_the_code_declares():
    assert publish.external_hub_repos() == sorted(
        {c.repo_id for c in publish.declared_checkpoints() if c.repo_id is not None})
    assert publish.external_hub_repos(), "the VGG checkpoints load from timm's Hub repos"


@pytest.mark.parametrize("argv, message", [
    (["--space", "gallery"], "give the Space as OWNER/NAME"),
    (["--space", "me/my gallery"], "is not a valid Space id"),
    (["--space", "me/a--b"], "is not a valid Space id"),
    (["--space", "a/b/c"], "give the Space as OWNER/NAME"),
    (["--space", "me/gallery", "--hardware", "h100-huge"], "unknown hardware 'h100-huge'; one of: cpu-basic"),
    (["--repo", "me/weights", "--hardware", "t4-small"], "apply to --space only"),
    (["--space", "me/g", "--repo", "me/w"], "not allowed with argument"),
])
def test_bad_arguments_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        publish.main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


class FakeHfApi:
    """Stands in for huggingface_hub.HfApi: records calls; upload_folder applies the patterns it
    is given the way the Hub client does (fnmatch, `*` crossing '/', 'dir/' = 'dir/*')."""

    calls: list = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, **kwargs):
        def matches(path, patterns):
            return any(fnmatch.fnmatchcase(path, p + "*" if p.endswith("/") else p) for p in patterns)

        root = Path(kwargs["folder_path"])
        sent = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
        sent = {p for p in sent if matches(p, kwargs["allow_patterns"])
                and not matches(p, kwargs["ignore_patterns"] + [".git/*"])}
        self.calls.append(("upload_folder", sent, kwargs))

    def request_space_hardware(self, repo_id, hardware, **kwargs):
        self.calls.append(("request_space_hardware", repo_id, hardware))


@pytest.fixture
def fake_hub(monkeypatch, no_sockets):
    import huggingface_hub

    FakeHfApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHfApi)
    return FakeHfApi.calls


def test_deploy_creates_uploads_and_requests_hardware(gallery, fake_hub, capsys):
    publish.main(["--space", "me/gallery", "--private", "--hardware", "t4-small"])
    assert [c[0] for c in fake_hub] == ["create_repo", "upload_folder", "request_space_hardware"]
    _, repo_id, create = fake_hub[0]
    assert repo_id == "me/gallery"
    assert create == {"repo_type": "space", "space_sdk": "gradio", "private": True, "exist_ok": True}
    _, sent, upload = fake_hub[1]
    assert upload["repo_id"] == "me/gallery" and upload["repo_type"] == "space"
    assert Path(upload["folder_path"]) == gallery
    assert sent == set(SHIPPED)
    allow, ignore = publish.space_patterns()
    assert upload["allow_patterns"] == allow and upload["ignore_patterns"] == ignore
    assert upload["delete_patterns"] == allow  # stale files of ours are removed, nothing else
    assert fake_hub[2] == ("request_space_hardware", "me/gallery", "t4-small")
    assert "https://huggingface.co/spaces/me/gallery" in capsys.readouterr().out


def test_deploy_without_options_is_public_and_keeps_hardware(gallery, fake_hub):
    publish.main(["--space", "me/gallery"])
    assert [c[0] for c in fake_hub] == ["create_repo", "upload_folder"]
    assert fake_hub[0][2]["private"] is False


def test_deploy_refuses_a_broken_card_before_contacting_the_hub(gallery, fake_hub):
    (gallery / "README.md").write_text(card(sdk_version="5.0.0"))
    with pytest.raises(SystemExit):
        publish.main(["--space", "me/gallery"])
    assert fake_hub == []


def test_deploy_without_a_token_says_how_to_log_in(gallery, fake_hub, monkeypatch):
    from huggingface_hub.errors import LocalTokenNotFoundError

    def no_token(self, repo_id, **kwargs):
        raise LocalTokenNotFoundError("no token")
    monkeypatch.setattr(FakeHfApi, "create_repo", no_token)
    with pytest.raises(SystemExit) as stop:
        publish.main(["--space", "me/gallery"])
    assert "HF_TOKEN" in stop.value.code and "write" in stop.value.code


def test_dry_run_list_is_what_upload_folder_sends(gallery, no_sockets):
    """The huggingface_hub client's own selection (the step of upload_folder before any network
    call; its README check, which asks the Hub, is stubbed) equals the dry run's list."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS

    api = HfApi()
    if not hasattr(api, "_prepare_upload_folder_additions"):
        pytest.skip("this huggingface_hub selects upload_folder's files elsewhere")
    api._validate_yaml = lambda *args, **kwargs: None
    allow, ignore = publish.space_patterns()
    operations = api._prepare_upload_folder_additions(gallery, None, allow_patterns=allow,
                                                      ignore_patterns=ignore + DEFAULT_IGNORE_PATTERNS,
                                                      repo_type="space")
    assert [op.path_in_repo for op in operations] == [p.as_posix() for p in publish.space_files(gallery)]
    assert {op.path_in_repo for op in operations} == set(SHIPPED)
