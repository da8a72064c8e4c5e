"""U-Net on the ISBI 2012 EM slices: the fixed split keeps the test slices out of training and
every choice, pixel error and (adapted) Rand error by hand on tiny label maps, the shipped EM
model's overlap-tile output on a full 512² slice, and the tab's EM choice."""
import numpy as np
import pytest

from papers import unet

HAVE_EM = (unet.EM_DIR / "image").is_dir()
HAVE_WEIGHTS = (unet.Path(__file__).resolve().parents[1] / "weights" / unet.EM_CHECKPOINT.filename).is_file()


def test_em_split_is_disjoint_and_the_test_slices_are_never_trained_or_chosen_on():
    split = unet.em_split()
    train, validation, test = (set(split[k]) for k in ("train", "validation", "test"))
    assert train | validation | test == set(range(30))
    assert not (train & validation) and not (train & test) and not (validation & test)
    assert test == {26, 27, 28, 29} and validation == {22, 23, 24, 25}


def test_training_and_choices_read_only_their_own_slices(monkeypatch):
    """train_em and em_postprocessing load slices only from their parts of the split."""
    read = []

    def fake_slice(index):
        read.append(index)
        rng = np.random.default_rng(index)
        return rng.random((256, 256)).astype(np.float32), (rng.random((256, 256)) > 0.2).astype(np.int64)

    monkeypatch.setattr(unet, "em_slice", fake_slice)
    model = unet.train_em(steps=1)
    assert set(read) == set(unet.em_split()["train"])
    monkeypatch.setattr(unet, "EM_THRESHOLDS", (0.5,))
    monkeypatch.setattr(unet, "EM_BASELINE_SIGMAS", (1.0,))
    monkeypatch.setattr(unet, "EM_BASELINE_THRESHOLDS", (0.5,))
    read.clear()
    unet.em_postprocessing(model)
    assert set(read) == set(unet.em_split()["validation"])


def test_pixel_error_by_hand():
    truth = np.ones((4, 5), np.int64)
    truth[:, 2] = 0  # a membrane column
    predicted = truth.astype(bool).copy()
    predicted[0, 0] = False  # one interior pixel called membrane
    predicted[1, 2] = True  # one membrane pixel called interior
    assert unet.pixel_error(predicted, truth) == pytest.approx(2 / 20)
    assert unet.pixel_error(truth, truth) == 0.0


def test_rand_error_by_hand_and_as_scikit_image():
    true = np.array([[1, 1, 0, 2, 2],
                     [1, 1, 0, 2, 2]])
    assert unet.rand_error(true, true) == 0.0
    assert unet.rand_error(true * 7, true) == 0.0  # label names do not matter
    merged = np.where(true > 0, 1, 0)  # the two segments merged: 8 pixels, contingency 4 and 4
    # pairs of distinct pixels: Σ(n_ij² − n_ij) = 24, Σ(a_i² − a_i) = 24 (true), Σ(b_j² − b_j) = 56
    # precision 24/56 = 3/7, recall 1 → F = 0.6
    assert unet.rand_error(merged, true) == pytest.approx(0.4)
    split = np.array([[1, 3, 0, 2, 2],
                      [1, 3, 0, 2, 2]])  # segment 1 split in two halves: Σn = 2+2+12 = 16, Σb = 16, Σa = 24
    assert unet.rand_error(split, true) == pytest.approx(1 - 2 * (2 / 3) / (1 + 2 / 3))  # 0.2
    from skimage.metrics import adapted_rand_error

    for predicted in (merged, split):
        assert unet.rand_error(predicted, true) == pytest.approx(
            adapted_rand_error(true, predicted, ignore_labels=(0,))[0])


def test_em_scores_count_a_broken_membrane_as_a_merge():
    labels = np.ones((10, 21), np.int64)
    labels[:, 10] = 0  # two cells apart by a 1-px membrane
    gap = labels.astype(bool).copy()
    gap[5, 10] = True  # one pixel of membrane missed: pixel error tiny, Rand error large
    scores = unet.em_scores(gap, labels)
    assert scores["pixel_error"] == pytest.approx(1 / 210)
    # two true segments of 100 px merged into one of 200: Σn = Σa = 2·(100² − 100), Σb = 200² − 200
    assert scores["rand_error"] == pytest.approx(1 - 2 * 19800 / (19800 + 39800))
    assert unet.em_scores(labels > 0, labels) == {"pixel_error": 0.0, "rand_error": 0.0}


@pytest.mark.skipif(not HAVE_EM, reason="../shared/data/isbi2012_em is not here")
def test_em_slices_load_at_full_resolution_with_membranes_as_zero():
    grey, labels = unet.em_slice(26)
    assert grey.shape == labels.shape == (512, 512) and 0 <= grey.min() and grey.max() <= 1
    assert set(np.unique(labels)) == {0, 1} and 0.1 < (labels == 0).mean() < 0.35  # membranes are a minority


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="weights/unet_em.safetensors is not here")
def test_shipped_em_model_overlap_tiles_a_512_slice_seamlessly():
    model, post = unet.em_pretrained("cpu")
    on_grid = lambda value, grid: min(abs(value - g) for g in grid) < 1e-6  # noqa: E731  (stored as float32)
    assert on_grid(post["threshold"], unet.EM_THRESHOLDS)
    assert on_grid(post["baseline_sigma"], unet.EM_BASELINE_SIGMAS)
    assert on_grid(post["baseline_threshold"], unet.EM_BASELINE_THRESHOLDS)
    grey = unet.em_slice(26)[0] if HAVE_EM else np.random.default_rng(0).random((512, 512)).astype(np.float32)
    tiled = unet.em_interior_probability(model, grey)  # 212-px output tiles: a 3×3 grid
    whole = unet.em_interior_probability(model, grey, tile_output=512)  # one tile
    assert tiled.shape == (512, 512) and np.abs(tiled - whole).max() < 1e-4
    found = unet.segment_em(grey, "cpu")
    assert found.membrane.shape == found.segments.shape == (512, 512)
    if HAVE_EM:
        labels = unet.em_slice(26)[1]
        ours = unet.em_scores(found.segments > 0, labels)
        base = unet.em_scores(found.baseline > 0, labels)
        assert ours["pixel_error"] < base["pixel_error"] and ours["rand_error"] < base["rand_error"]


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="weights/unet_em.safetensors is not here")
def test_tab_segments_the_em_example_with_the_em_model():
    from demos import unet as tab

    example = next(p for p in tab.EXAMPLES if "isbi" in str(p))
    (image, masks), (_, baseline), membrane, summary = tab.segment(example, 0.5, False, "em",
                                                                   progress=lambda *a, **k: None)
    assert image.shape == (512, 512, 3) and membrane.shape == image.shape
    assert len(masks) >= 20 and len(baseline) >= 1
    assert "U-Net (ISBI EM)" in summary and "pixel error" in summary and "Rand error" in summary


def test_train_a_little_streams_the_held_out_instance_f1_before_and_after():
    """Item 5: the fine-tuning streams the instance F1 on a held-out labelled image, from step 0
    (the shipped model) to the last step, on real U2OS tiles when the data are here."""
    from demos import unet as tab

    outputs = list(tab.train_a_little(tab.EXAMPLES[0], 0, False, False))  # clipped to 2 s, no weight map
    history, trained, note, scores = outputs[-1]
    assert trained is not None and "Done" in note and "→" in note
    assert scores["step"].iloc[0] == 0 and scores["step"].iloc[-1] == history["step"].iloc[-1] >= 1
    assert scores["F1"].between(0, 1).all()
    kind = "real U2OS nuclei tiles" if (unet.U2OS_DIR / "image").is_dir() else "synthetic cell tiles"
    assert kind in note
    shipped_f1 = scores["F1"].iloc[0]
    if kind.startswith("real"):  # step 0 is the shipped nuclei model: it finds the validation nuclei
        assert shipped_f1 > 0.5
