"""The paper's own measurement (papers.cue_conflict), offline: a stand-in for a checkout of
rgeirhos/texture-vs-shape written into tmp_path (a few tiny PNGs with the authors' naming, one
conflict-free, and a human_categories.py with made-up index lists that would fail if it were
executed), classified by hand-made and random-weight models; counts checked by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from papers import alexnet
from papers import cue_conflict as cc
from papers.checkpoints import seeded_init

CATEGORIES_FILE = '''#!/usr/bin/env python
import helper.wordnet_functions as wf  # importing this file would fail here...
raise RuntimeError("...and running it too: the gallery must only parse it")


class HumanCategories(object):
    cat = ['n02123045']  # WNIDs: not index lists, ignored
    dog_indices = [2, 3, 4]
    cat_indices = [0, 1]
    bird_indices = [5]

    def get_imagenet_indices_for_category(self, category):
        return getattr(self, category + "_indices")
'''
INDICES = {"bird": (5,), "cat": (0, 1), "dog": (2, 3, 4)}
# file name -> (red value of the solid image, the ImageNet class the hand-made model answers)
STIMULI = {
    "cat/cat1-dog1.png": (10, 3),  # dog: the texture
    "cat/cat2-bird1.png": (40, 0),  # cat: the shape
    "cat/cat1-cat2.png": (70, 5),  # conflict-free: excluded, never classified
    "dog/dog1-cat1.png": (100, 5),  # bird: neither
    "dog/dog1-bird2.png": (130, 4),  # dog: the shape
    "bird/bird1-dog1.png": (160, 2),  # dog: the texture
}
NOT_STIMULI = ("cat/notes.png", "dog/cat9-dog1.png", "cat/cat3-horse1.png")  # bad name, wrong folder, unknown


def _png(path, red: int, side: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((side, side, 3), np.uint8)
    pixels[..., 0] = red
    Image.fromarray(pixels).save(path)


@pytest.fixture
def checkout(tmp_path):
    root = tmp_path / "texture-vs-shape"
    stimuli = root / cc.STIMULI_PATH
    for name, (red, _) in STIMULI.items():
        _png(stimuli / name, red)
    for name in NOT_STIMULI:
        _png(stimuli / name, 250)
    (stimuli / "cat" / "README.txt").write_text("not an image")
    (root / cc.CATEGORIES_PATH).parent.mkdir(parents=True)
    (root / cc.CATEGORIES_PATH).write_text(CATEGORIES_FILE)
    return root


class Lookup(nn.Module):
    """Answers, for each solid stimulus, the ImageNet class STIMULI gives it (found by the red
    channel of the preprocessed image); records how many images it classified."""

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # so the pipeline finds a device
        reds = torch.tensor([red for red, _ in STIMULI.values()], dtype=torch.float32)
        self.register_buffer("reds", (reds / 255 - alexnet.IMAGENET_MEAN[0]) / alexnet.IMAGENET_STD[0])
        self.answers = [answer for _, answer in STIMULI.values()]
        self.seen = 0

    def forward(self, x):  # (B, 3, 224, 224) -> (B, 1000)
        self.seen += len(x)
        red = x[:, 0].mean(dim=(1, 2))  # (B,)
        which = (red[:, None] - self.reds[None]).abs().argmin(1)
        logits = torch.zeros(len(x), cc.NUM_IMAGENET_CLASSES)
        logits[torch.arange(len(x)), torch.tensor([self.answers[k] for k in which])] = 20.0
        return logits


# --------------------------------------------------------------------------- the checkout
def test_the_category_lists_are_parsed_not_executed(checkout):
    assert cc.parse_category_indices(checkout / cc.CATEGORIES_PATH) == INDICES
    assert list(cc.parse_category_indices(checkout / cc.CATEGORIES_PATH)) == ["bird", "cat", "dog"]  # sorted


@pytest.mark.parametrize("body", [
    "class HumanCategories:\n    cat_indices = [0, 1000]\n",  # not an ImageNet class
    "class HumanCategories:\n    cat_indices = list(range(3))\n",  # code, not a literal
    "class HumanCategories:\n    cat_indices = []\n",
    "class HumanCategories:\n    cat_indices = [1.5]\n",
    "class HumanCategories:\n    cat = ['n1']\n",  # no index lists
    "cat_indices = [0, 1]\n",  # no class
])
def test_bad_category_files_are_refused(tmp_path, body):
    path = tmp_path / "human_categories.py"
    path.write_text(body)
    with pytest.raises(ValueError):
        cc.parse_category_indices(path)


def test_the_checkout_root_or_its_stimuli_folder_both_work(checkout, monkeypatch):
    stimuli = checkout / cc.STIMULI_PATH
    for given in (checkout, stimuli):
        found = cc.locate(given)
        assert found.stimuli == stimuli and found.categories_file == checkout / cc.CATEGORIES_PATH
    monkeypatch.setenv(cc.ENV_VAR, str(stimuli))
    assert cc.locate().stimuli == stimuli


def test_missing_stimuli_say_how_to_get_them(tmp_path, checkout, monkeypatch):
    monkeypatch.delenv(cc.ENV_VAR, raising=False)
    for given in (None, tmp_path / "nowhere", tmp_path):
        with pytest.raises(cc.CueConflictUnavailable, match="git clone https://github.com/rgeirhos/texture-vs-shape"):
            cc.locate(given)
    (checkout / cc.CATEGORIES_PATH).unlink()
    with pytest.raises(cc.CueConflictUnavailable, match="human_categories.py"):
        cc.locate(checkout)


def test_the_plan_excludes_conflict_free_images_and_foreign_files(checkout):
    chosen = cc.plan(cc.locate(checkout))
    names = sorted(s.path.name for s in chosen.stimuli)
    conflict = sorted(name.split("/")[1] for name in STIMULI if name != "cat/cat1-cat2.png")
    assert names == conflict and chosen.excluded == 1 and chosen.indices == INDICES
    assert all(s.conflict and s.path.parent.name == s.shape for s in chosen.stimuli)


def test_a_subset_is_balanced_over_shape_categories(checkout):
    chosen = cc.plan(cc.locate(checkout), limit=3, seed=4)
    assert sorted(s.shape for s in chosen.stimuli) == ["bird", "cat", "dog"]
    again = cc.plan(cc.locate(checkout), limit=3, seed=4)
    assert again.stimuli == chosen.stimuli  # the seed fixes the subset


# --------------------------------------------------------------------------- ImageNet -> 16 categories
def test_categories_are_decided_by_the_mean_not_the_max():
    p = np.zeros((1, cc.NUM_IMAGENET_CLASSES))
    p[0, [0, 1]] = 0.3  # cat: mean 0.3
    p[0, 2] = 0.4  # dog: mean 0.4 / 3, but the largest single class
    np.testing.assert_allclose(cc.aggregate(p, INDICES), [[0.0, 0.3, 0.4 / 3]])
    assert cc.decide(p, INDICES) == ["cat"]
    by_max = list(INDICES)[int(np.argmax([p[0, list(idx)].max() for idx in INDICES.values()]))]
    assert by_max == "dog"  # the case tells the two aggregations apart


def test_ties_go_to_the_first_category_alphabetically():
    p = np.zeros((1, cc.NUM_IMAGENET_CLASSES))
    p[0, [0, 1, 5]] = 0.2  # bird and cat both have mean 0.2
    assert cc.decide(p, INDICES) == ["bird"]


# --------------------------------------------------------------------------- counting
def test_shape_bias_counts_by_hand(checkout):
    model = Lookup()
    *_, last = cc.run({"lookup": model}, cc.plan(cc.locate(checkout)), batch_size=2)
    assert last.done and model.seen == 5  # the conflict-free image was never classified
    d = last.cue_decisions("lookup")
    assert (d.shape, d.texture, d.neither) == (2, 2, 1)
    assert last.shape_bias("lookup") == pytest.approx(50.0)
    per = last.per_category("lookup")
    assert per["cat"] == pytest.approx(50.0) and per["dog"] == pytest.approx(100.0) and per["bird"] == 0.0


def test_the_time_budget_stops_every_model_on_the_same_images(checkout):
    models = {"a": Lookup(), "b": Lookup()}
    states = list(cc.run(models, cc.plan(cc.locate(checkout)), budget_s=0.0, batch_size=2))
    assert len(states) == 1 and states[0].done and "budget" in states[0].reason
    assert states[0].evaluated("a") == states[0].evaluated("b") == 2


def test_the_process_cache_classifies_each_image_once(checkout):
    cache, model = cc.ProbabilityCache(), Lookup()
    chosen = cc.plan(cc.locate(checkout))
    *_, first = cc.run({"m": model}, chosen, cache=cache)
    *_, second = cc.run({"m": model}, chosen, cache=cache)
    assert model.seen == 5 and len(cache) == 5
    assert second.decisions == first.decisions


def test_a_random_weight_alexnet_runs_the_pipeline(checkout):
    with seeded_init(0):
        model = alexnet.AlexNet("torchvision").eval()
    chosen = cc.plan(cc.locate(checkout))
    *_, last = cc.run({"alexnet": model}, chosen, batch_size=4)
    with torch.inference_mode():
        direct = torch.cat([model(alexnet.preprocess(cc.load_rgb(s.path))) for s in chosen.stimuli]).softmax(-1)
    assert last.decisions["alexnet"] == cc.decide(direct.numpy(), INDICES)
    d = last.cue_decisions("alexnet")
    assert d.shape + d.texture + d.neither == 5
    bias = last.shape_bias("alexnet")
    assert math.isnan(bias) or 0 <= bias <= 100


def test_experiments_compare_with_the_authors_torchvision_figures():
    by_id = {e.id: e for e in cc.EXPERIMENTS}
    assert by_id["alexnet_shape_bias"].paper.value == 25.3 and by_id["vgg16_shape_bias"].paper.value == 9.2


# --------------------------------------------------------------------------- the tab
def _frames(handler, *args):
    return list(handler(*args))


def test_the_tab_says_how_to_get_the_images_without_them(monkeypatch):
    from demos import texture_bias as demo

    monkeypatch.delenv(cc.ENV_VAR, raising=False)
    frames = _frames(demo.measure_cue_conflict, ["alexnet", "vgg16"], 160, 30)
    assert len(frames) == 1 and "git clone" in frames[0][0] and cc.ENV_VAR in frames[0][0]


def test_the_tab_says_how_to_get_missing_weights(checkout, monkeypatch):
    from demos import texture_bias as demo
    from papers.checkpoints import is_available_locally

    if is_available_locally(alexnet.IMAGENET):
        pytest.skip("the AlexNet weights are here")
    monkeypatch.setenv(cc.ENV_VAR, str(checkout))
    frames = _frames(demo.measure_cue_conflict, ["alexnet"], 160, 30)
    assert len(frames) == 1 and alexnet.IMAGENET.name in frames[0][0]


def test_the_tab_measures_with_the_stand_in_models(checkout, monkeypatch):
    from demos import texture_bias as demo

    monkeypatch.setenv(cc.ENV_VAR, str(checkout))
    monkeypatch.setattr(cc, "PROCESS_CACHE", cc.ProbabilityCache())
    for key in cc.MODELS:
        monkeypatch.setitem(cc.MODELS, key, cc.ImageNetModel(key, cc.MODELS[key].label, cc.MODELS[key].checkpoint,
                                                             Lookup))
    frames = _frames(demo.measure_cue_conflict, ["vgg16", "alexnet", "not a model"], "junk", 30)
    status, plot, table = frames[-1]
    assert status.startswith("Done") and "50.0 %" in status
    assert list(table["shape"]) == [2, 2] and list(table["authors, torchvision (%)"]) == [25.3, 9.2]
    overall = plot[plot["category"] == "all categories"].set_index("model")["shape bias (%)"]
    assert overall["AlexNet (measured here)"] == pytest.approx(50.0) and overall["VGG-16 (authors, torchvision)"] == 9.2
    assert _frames(demo.measure_cue_conflict, [], 160, 30)[0][0].startswith("Choose")
