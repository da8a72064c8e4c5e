"""Recurrent STN: sequences on the canvas, the recurrent attention's shapes and start, the shipped
models (attention moves left to right, recorded errors) and the tab's handlers."""
import pytest
import torch

from papers import rstn
from papers.checkpoints import is_available_locally

torch.set_num_threads(1)


def test_sequences_put_each_digit_in_its_third():
    images = rstn.digits("test")[0][:3][None, :, 0]  # (1, 3, 28, 28)
    canvas = rstn.compose_sequence(images, torch.Generator().manual_seed(0), clutter=0)
    assert canvas.shape == (1, 1, rstn.CANVAS_H, rstn.CANVAS_W)
    bounds = [round(t * rstn.CANVAS_W / 3) for t in range(4)]
    thirds = torch.stack([canvas[0, 0, :, a:b].sum() for a, b in zip(bounds, bounds[1:])])
    assert (thirds > 0.5 * images.sum((2, 3))[0] * 0.8 ** 2).all()  # each digit (scale >= 0.8) in its third


def test_slot_thetas_look_at_the_thirds():
    thetas = rstn.slot_thetas()
    centres_px = (thetas[:, 0, 2] + 1) / 2 * rstn.CANVAS_W
    expected = torch.tensor([(t + 0.5) * rstn.CANVAS_W / 3 for t in range(3)])
    assert torch.allclose(centres_px, expected, atol=1e-4)


def test_untrained_rnn_spn_shapes_and_gradients():
    model = rstn.RNNSPN()
    x, y = rstn.sequence_batch(*rstn.digits("train"), 4, torch.Generator().manual_seed(0))
    thetas, glimpses = model.attend(x)
    assert thetas.shape == (4, 3, 2, 3) and glimpses.shape == (4, 3, 1, 28, 28)
    assert torch.allclose(thetas, rstn.slot_thetas().expand(4, -1, -1, -1))  # starts at the slots
    loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 10), y.reshape(-1))
    loss.backward()
    assert model.to_theta.weight.grad.abs().sum() > 0  # the attention is learned through the sampler


def test_baselines_output_one_softmax_per_position():
    x = torch.rand(2, 1, rstn.CANVAS_H, rstn.CANVAS_W)
    for name in ("cnn", "single_stn"):
        assert rstn.MODELS[name]()(x).shape == (2, 3, 10)


needs_weights = pytest.mark.skipif(
    not all(is_available_locally(c) for c in rstn.CHECKPOINTS.values()), reason="rstn weights not shipped")


def test_placed_digit_centres_are_recorded():
    images = rstn.digits("test")[0][:3][None, :, 0]  # (1, 3, 28, 28)
    centres = []
    canvas = rstn.compose_sequence(images, torch.Generator().manual_seed(1), clutter=0, centres=centres)
    (x, y), = centres[0][0, :1]
    ink = canvas[0, 0, :, : rstn.CANVAS_W // 3]
    rows, cols = torch.arange(rstn.CANVAS_H).float(), torch.arange(rstn.CANVAS_W // 3).float()
    ink_x = (ink.sum(0) * (cols + 0.5)).sum() / ink.sum()
    ink_y = (ink.sum(1) * (rows + 0.5)).sum() / ink.sum()
    assert abs(ink_x - x) < 3 and abs(ink_y - y) < 3  # the first digit's box centre ~ its ink centre


@needs_weights
def test_trained_attention_moves_towards_the_digits():
    """The paper's claim (§2-3): trained from the labels alone, the steps attend to the digits. An
    untrained RNN-SPN looks exactly at the thirds' centres; the trained one's glimpses are
    measurably closer to where the digits really are (re-measured on 200 test sequences)."""
    start = rstn.attention_error_px(None, seed=0, count=200)
    untrained = rstn.attention_error_px(rstn.RNNSPN().eval(), seed=0, count=200)
    assert untrained == pytest.approx(start, abs=1e-4)
    assert rstn.attention_error_px(rstn.load_model("rnn_spn"), seed=0, count=200) < 0.85 * start


@needs_weights
def test_shipped_rnn_spn_reads_better_than_both_baselines():
    """The tab's ranking, re-measured on the fixed test sequences: RNN-SPN < single STN < CNN."""
    errors = {name: rstn.evaluate(rstn.load_model(name))["digit_error_percent"] for name in rstn.MODELS}
    assert errors["rnn_spn"] < errors["single_stn"] < errors["cnn"]


gr = pytest.importorskip("gradio")
demo = pytest.importorskip("demos.rstn")


@needs_weights
@pytest.mark.parametrize("sequence,clutter", [("4 7 2", 8), ("000", 0), ("9,9,9", 40)])
def test_read_handler(sequence, clutter):
    overlay, g1, g2, g3, text = demo.read(sequence, clutter, 3)
    assert overlay.shape == (rstn.CANVAS_H * demo.ZOOM, rstn.CANVAS_W * demo.ZOOM, 3)
    assert g1.shape == (112, 112) and "RNN-SPN" in text


@pytest.mark.parametrize("sequence,clutter", [("", 4), ("12", 4), ("1234", 4), ("a b c", 4), (None, 4), ("123", 99)])
def test_read_handler_bad_inputs(sequence, clutter):
    with pytest.raises(gr.Error):
        demo.read(sequence, clutter, 0)


def test_roll_gives_three_digits():
    sequence, seed = demo.roll(5)
    assert len(sequence.split()) == 3 and seed == 6
