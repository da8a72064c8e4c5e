"""Recurrent STN: random layouts (and the test-only ones outside them), an attention start with no
per-step position prior, the shipped models (attention finds the digits on random and unseen
layouts, recorded errors) and the tab's handlers."""
import pytest
import torch

from papers import rstn
from papers.checkpoints import is_available_locally

torch.set_num_threads(1)


def test_training_layouts_are_random_and_ood_layouts_are_outside_them():
    """Positions and spacings vary widely in training (no digit is tied to a third of the canvas);
    the test-only layouts have gaps between boxes that training never produces."""
    sizes = torch.full((400, 3), 24)
    xs = rstn.layout_x(sizes, torch.Generator().manual_seed(0))
    gaps = xs[:, 1:] - xs[:, :-1] - 24
    assert gaps.min() == rstn.GAP_RANGE[0] and gaps.max() == rstn.GAP_RANGE[1]
    assert xs[:, 0].max() - xs[:, 0].min() >= 15  # the group's position varies
    images = rstn.digits("test")[0][:360].reshape(120, 3, 1, 28, 28)[:, :, 0]
    centres = []
    rstn.compose_sequence(images, torch.Generator().manual_seed(0), clutter=0, centres=centres)
    for t in range(3):  # x and y vary for every step
        assert centres[0][:, t, 0].std() > 4 and centres[0][:, t, 1].std() > 3
    assert (centres[0][:, 1:, 0] > centres[0][:, :-1, 0]).all()  # still left to right
    for name, layout in rstn.OOD_LAYOUTS.items():
        ood = rstn.layout_x(sizes[:50], torch.Generator().manual_seed(1), **layout)
        ood_gaps = ood[:, 1:] - ood[:, :-1] - 24
        assert ((ood_gaps < rstn.GAP_RANGE[0]) | (ood_gaps > rstn.GAP_RANGE[1])).all(), name
        assert ood.min() >= 0 and (ood[:, -1] + 24).max() <= rstn.CANVAS_W
    assert (rstn.layout_x(sizes[:5], torch.Generator(), **rstn.OOD_LAYOUTS["packed_left"])[:, 0] == 0).all()
    right = rstn.layout_x(sizes[:5], torch.Generator(), **rstn.OOD_LAYOUTS["packed_right"])
    assert (right[:, -1] + 24 == rstn.CANVAS_W).all()


def test_layout_curriculum_starts_centred_and_ends_on_the_full_random_layouts():
    """The training curriculum (`layout_variety`): at variety 0 every group has the smallest gaps and
    sits at the canvas centre; at variety 1 the gaps fill GAP_RANGE and the group moves across the
    free room; the variety grows from 0 to 1 over the first CURRICULUM of the steps."""
    sizes = torch.full((400, 3), 24)
    easy = rstn.layout_x(sizes, torch.Generator().manual_seed(0), variety=0.0)
    assert ((easy[:, 1:] - easy[:, :-1] - 24) == rstn.GAP_RANGE[0]).all()
    width = 3 * 24 + 2 * rstn.GAP_RANGE[0]
    assert ((easy[:, 0] - (rstn.CANVAS_W - width) / 2).abs() <= 1).all()
    full = rstn.layout_x(sizes, torch.Generator().manual_seed(0), variety=1.0)
    assert (full[:, 1:] - full[:, :-1] - 24).max() == rstn.GAP_RANGE[1] and full[:, 0].float().std() > 5
    assert rstn.layout_variety(1, 1000, 0.3) == 0 and rstn.layout_variety(301, 1000, 0.3) == 1
    assert 0.4 < rstn.layout_variety(151, 1000, 0.3) < 0.6 and rstn.layout_variety(1, 1000, 0.0) == 1


def test_canvas_digits_are_where_recorded():
    images = rstn.digits("test")[0][:3][None, :, 0]  # (1, 3, 28, 28)
    centres = []
    canvas = rstn.compose_sequence(images, torch.Generator().manual_seed(0), clutter=0, centres=centres)
    assert canvas.shape == (1, 1, rstn.CANVAS_H, rstn.CANVAS_W)
    (x, y), = centres[0][0, :1]
    ink = canvas[0, 0, :, : int(x + 12)]
    rows, cols = torch.arange(rstn.CANVAS_H).float(), torch.arange(ink.shape[1]).float()
    ink_x = (ink.sum(0) * (cols + 0.5)).sum() / ink.sum()
    ink_y = (ink.sum(1) * (rows + 0.5)).sum() / ink.sum()
    assert abs(ink_x - x) < 4 and abs(ink_y - y) < 3  # the first digit's box centre ~ its ink centre


def test_attention_starts_without_a_per_step_position_prior():
    """Untrained, every step of every canvas looks at the same place (a digit-sized window at the
    canvas centre): nothing tells step t where digit t is; only learned weights move the steps apart."""
    model = rstn.RNNSPN()
    x, y = rstn.sequence_batch(*rstn.digits("train"), 4, torch.Generator().manual_seed(0))
    thetas, glimpses = model.attend(x)
    assert thetas.shape == (4, 3, 2, 3) and glimpses.shape == (4, 3, 1, 28, 28)
    start = rstn.start_theta()
    assert torch.allclose(thetas, start.expand(4, 3, 2, 3))
    assert torch.equal(start[:, 2], torch.zeros(2))  # centred: no translation, the same for every step
    width, height = start[0, 0] * rstn.CANVAS_W, start[1, 1] * rstn.CANVAS_H  # window size in px
    assert 21 <= width <= 28 and 21 <= height <= 28 and start[0, 1] == start[1, 0] == 0  # about one digit
    assert not any("slot" in k for k in model.state_dict())  # no per-step bias buffer
    loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 10), y.reshape(-1))
    loss.backward()
    assert model.to_theta.weight.grad.abs().sum() > 0  # the attention is learned through the sampler


@pytest.mark.parametrize("size", (rstn.DIGIT_SIZE, 20, 14))
def test_coarser_glimpses_sample_the_same_window_with_fewer_pixels(size):
    """A glimpse-size experiment changes only the glimpse's resolution (the paper's down-sampling
    factor, canvas pixels per glimpse pixel), not where the window starts or the classifier's job."""
    model = rstn.RNNSPN(rstn.Config(glimpse=size))
    x, _ = rstn.sequence_batch(*rstn.digits("train"), 2, torch.Generator().manual_seed(0))
    thetas, glimpses = model.attend(x)
    assert glimpses.shape == (2, 3, 1, size, size) and model(x).shape == (2, 3, 10)
    assert torch.allclose(thetas, rstn.start_theta().expand(2, 3, 2, 3))
    assert rstn.downsampling(size) == pytest.approx(rstn.CANVAS_H * rstn.CANVAS_W / size ** 2)


def test_baselines_output_one_softmax_per_position():
    x = torch.rand(2, 1, rstn.CANVAS_H, rstn.CANVAS_W)
    for name in ("cnn", "single_stn"):
        assert rstn.MODELS[name]()(x).shape == (2, 3, 10)


needs_weights = pytest.mark.skipif(
    not all(is_available_locally(c) for c in rstn.CHECKPOINTS.values()), reason="rstn weights not shipped")


@needs_weights
def test_trained_attention_moves_with_the_digits_on_random_layouts():
    """The paper's claim (§2-3), as far as it holds here: trained from the labels alone, each
    step's glimpse moves with its digit on random layouts (the untrained one never moves). On
    the unseen packed layouts it does not (results/rstn.json: attention_tracking_*)."""
    untrained = rstn.RNNSPN().eval()
    x, _ = rstn.test_set(20, seed=11)
    with torch.no_grad():
        assert torch.allclose(untrained.attend(x)[0], rstn.start_theta().expand(20, 3, 2, 3))
    assert rstn.attention_tracking(rstn.load_model("rnn_spn"), seed=7, count=100) > 0.8
    assert rstn.attention_tracking(rstn.load_model("rnn_spn"), seed=7, count=100, layout="packed_left") < 0.5


@needs_weights
def test_the_tabs_honest_sentences_hold():
    """The tab says: on random layouts the RNN-SPN reads better than both baselines, with glimpses
    about a digit wide and close to the digits; out-of-distribution (packed) error is NOT close to
    in-distribution error (re-measured on 200 sequences)."""
    def error(name, layout):
        canvases, labels = rstn.test_set(200, seed=4321, layout=layout)
        with torch.no_grad():
            return (rstn.load_model(name)(canvases).argmax(-1) != labels).float().mean().item()
    inside = error("rnn_spn", "random")
    assert error("cnn", "random") > inside and error("single_stn", "random") > inside
    assert error("rnn_spn", "packed_left") > 2 * inside and error("rnn_spn", "packed_right") > 2 * inside
    model = rstn.load_model("rnn_spn")
    # packed layouts: the glimpses are pulled towards the canvas centre (right when packed left, left when
    # packed right), further than on random layouts
    left, right = (rstn.attention_offset_px(model, seed=5, count=100, layout=k) for k in ("packed_left", "packed_right"))
    assert left > 3 and right < -3 and abs(rstn.attention_offset_px(model, seed=5, count=100)) < 3
    assert rstn.glimpse_width_px(model, seed=5, count=100) < 35  # a digit is 21-27 px; the canvas 140
    assert rstn.attention_error_px(model, seed=5, count=100) < 0.5 * rstn.attention_error_px(None, seed=5, count=100)


gr = pytest.importorskip("gradio")
demo = pytest.importorskip("demos.rstn")


@needs_weights
@pytest.mark.parametrize("sequence,clutter,layout", [("4 7 2", 8, (True, 0, 0)), ("000", 0, (False, 0, 1)),
                                                     ("9,9,9", 40, (False, 20, 0.5))])
def test_read_handler(sequence, clutter, layout):
    for attention in demo.ATTENTIONS:
        overlay, g1, g2, g3, text = demo.read(sequence, clutter, 3, *layout, attention)
        assert overlay.shape == (rstn.CANVAS_H * demo.ZOOM, rstn.CANVAS_W * demo.ZOOM, 3)
        assert g1.shape == (112, 112) and "RNN-SPN" in text


@needs_weights
def test_start_attention_is_one_centred_window_for_every_step():
    out = rstn.read_sequence(rstn.sequence_from_labels([1, 2, 3], 0, 0), "start")
    (w, h), (cx, cy) = rstn.Config().start_window_px, (rstn.CANVAS_W / 2, rstn.CANVAS_H / 2)
    window = torch.tensor([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2],
                           [cx - w / 2, cy + h / 2]])
    for box in out["boxes_px"]:
        assert torch.allclose(box, window, atol=1e-4)


@pytest.mark.parametrize("sequence,clutter", [("", 4), ("12", 4), ("1234", 4), ("a b c", 4), (None, 4), ("123", 99)])
def test_read_handler_bad_inputs(sequence, clutter):
    with pytest.raises(gr.Error):
        demo.read(sequence, clutter, 0)


@pytest.mark.parametrize("gap,offset,attention", [(-1, 0, "trained"), (99, 0, "trained"), (0, 1.5, "trained"),
                                                  (0, 0, "elsewhere")])
def test_read_handler_bad_layouts(gap, offset, attention):
    with pytest.raises(gr.Error):
        demo.read("1 2 3", 0, 0, False, gap, offset, attention)


def test_roll_gives_three_digits():
    sequence, seed = demo.roll(5)
    assert len(sequence.split()) == 3 and seed == 6
