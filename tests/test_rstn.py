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


@needs_weights
def test_attention_moves_left_to_right_and_reads_the_digits():
    canvas = rstn.sequence_from_labels([3, 8, 1], clutter=4, seed=1)
    out = rstn.read_sequence(canvas)
    centres = out["boxes_px"][:, :, 0].mean(1)
    assert centres[0] < centres[1] < centres[2]
    recorded = rstn.CHECKPOINTS["rnn_spn"].extra["digit_error_percent"]
    measured = rstn.evaluate(rstn.load_model("rnn_spn"))["digit_error_percent"]
    assert measured == pytest.approx(recorded, abs=0.3)


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
