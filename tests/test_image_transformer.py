"""Image Transformer: the block-layout masks, causality (1D and 2D), parity of a layer with
torch's Transformer layer, cached decoding, the shipped checkpoints' bits/dim, and the tab."""
import gradio as gr
import numpy as np
import pytest
import torch
import torch.nn as nn

import papers.image_transformer as it

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# Small random models: 4x4 RGB images (channels as positions: a 4x12 grid), 2 layers.
SMALL = {
    "1d": it.ImageTransformerConfig(height=4, width=4, channels=3, levels=5, d_model=32, n_heads=4,
                                    n_layers=2, d_ff=64, dropout=0.0, attention="1d",
                                    query_len=6, memory_len=12),
    "2d": it.ImageTransformerConfig(height=4, width=4, channels=3, levels=5, d_model=32, n_heads=4,
                                    n_layers=2, d_ff=64, dropout=0.0, attention="2d",
                                    query_shape=(2, 6), memory_flange=(2, 3)),
    "full": it.ImageTransformerConfig(height=4, width=4, channels=3, levels=5, d_model=32, n_heads=4,
                                      n_layers=2, d_ff=64, dropout=0.0, attention="full"),
}


def random_model(attention, **changes):
    torch.manual_seed(0)
    cfg = it.ImageTransformerConfig(**{**SMALL[attention].__dict__, **changes})
    return it.ImageTransformer(cfg).eval()


def random_sequences(cfg, batch=2, seed=1):
    return torch.randint(cfg.levels, (batch, cfg.n_positions), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("attention", it.VARIANTS)
def test_generation_order_is_a_permutation_and_round_trips(attention):
    cfg = SMALL[attention]
    assert sorted(it.generation_order(cfg).tolist()) == list(range(cfg.n_positions))
    images = torch.randint(cfg.levels, (3, cfg.height, cfg.width, cfg.channels))
    assert torch.equal(it.to_images(cfg, it.to_sequence(cfg, images)), images)


def test_2d_order_writes_whole_blocks_first():
    cfg = it.CONFIGS["2d"]
    h_q, w_q = cfg.query_shape
    first_block = it.generation_order(cfg)[: h_q * w_q]
    rows, cols = first_block // cfg.grid_width, first_block % cfg.grid_width
    assert rows.max() == h_q - 1 and cols.max() == w_q - 1


def test_masks_follow_the_block_layout():
    one_d = it.attention_mask(it.CONFIGS["1d"])
    cfg = it.CONFIGS["1d"]
    t = 2 * cfg.query_len + 3  # fourth position of the third query block
    assert one_d[t].nonzero().flatten().tolist() == list(range(2 * cfg.query_len - cfg.memory_len, t + 1))
    # 2D, pixel (5, 3): its block is rows 4-5, columns 0-3; memory rows 2-5, columns 0-5, minus later ones
    allowed, _ = it.receptive_field(it.CONFIGS["2d"], 5, 3)
    expected = np.zeros((8, 8), bool)
    expected[2:4, 0:6] = True
    expected[4, 0:4] = True
    expected[5, 0:4] = True
    assert np.array_equal(allowed, expected)


@pytest.mark.parametrize("attention", it.VARIANTS)
def test_model_is_causal(attention):
    """Changing any position at or after t leaves the distribution predicted for t unchanged,
    while changing the position just before t does change it (row t of the batch changes
    positions t..N-1)."""
    model = random_model(attention)
    cfg = model.cfg
    n = cfg.n_positions
    sequence = random_sequences(cfg, batch=1)
    later = torch.arange(n)[None, :] >= torch.arange(n)[:, None]  # (N, N): row t changes s >= t
    shift = 1 + torch.randint(cfg.levels - 1, (n, n), generator=torch.Generator().manual_seed(2))
    changed = torch.where(later, (sequence + shift) % cfg.levels, sequence)  # (N, N)
    with torch.no_grad():
        logits, perturbed = model(sequence), model(changed)  # (1, N, L), (N, N, L)
    difference = (perturbed - logits).abs().amax(-1)  # (N changed-from, N position)
    assert difference[later.T].max() < 1e-5  # positions up to t (pos <= t): untouched
    assert (difference.diagonal(offset=1) > 1e-3).all()  # position t+1 sees t


@pytest.mark.parametrize("attention", it.VARIANTS)
def test_one_layer_depends_exactly_on_its_memory_block(attention):
    """One layer's output at t changes when, and only when, an input position it may attend to
    changes (row s of the batch perturbs input position s)."""
    model = random_model(attention, n_layers=1)
    cfg = model.cfg
    n = cfg.n_positions
    x = model.inputs(random_sequences(cfg, batch=1))  # (1, N, d)
    noise = torch.randn(n, n, cfg.d_model) * torch.eye(n)[..., None]  # (N, N, d)
    with torch.no_grad():
        reference, _ = model.layers[0](x, model.allowed)
        changed, _ = model.layers[0](x + noise, model.allowed)
    depends = (changed - reference).abs().amax(-1) > 1e-6  # (N perturbed s, N output t)
    assert torch.equal(depends.T, it.attention_mask(cfg))


def test_layer_matches_torch_transformer_encoder_layer():
    """Eq. 1-2 are the (post-norm) Transformer layer: compare with torch's on random weights."""
    model = random_model("2d")
    ours = model.layers[0]
    cfg = model.cfg
    ref = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, dropout=0.0,
                                     batch_first=True, norm_first=False).eval()
    ref.self_attn.in_proj_weight.data.copy_(ours.self_attn.in_proj.weight)
    ref.self_attn.in_proj_bias.data.copy_(ours.self_attn.in_proj.bias)
    ref.self_attn.out_proj.load_state_dict(ours.self_attn.out_proj.state_dict())
    for name in ("linear1", "linear2", "norm1", "norm2"):
        getattr(ref, name).load_state_dict(getattr(ours, name).state_dict())
    x = torch.randn(2, cfg.n_positions, cfg.d_model)
    with torch.no_grad():
        expected = ref(x, src_mask=~model.allowed)
        got, weights = ours(x, model.allowed)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


@pytest.mark.parametrize("attention", it.ATTENTIONS)
def test_cached_decoding_matches_the_full_forward(attention):
    model = random_model(attention)
    sequence = random_sequences(model.cfg)
    decoder = it.IncrementalDecoder(model, len(sequence))
    with torch.no_grad():
        full = model(sequence)
        steps = [decoder.step(t, sequence[:, t - 1] if t else None) for t in range(sequence.shape[1])]
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-4)


def test_generate_keeps_the_known_prefix_and_rejects_zero_temperature():
    model = random_model("1d")
    known = random_sequences(model.cfg)
    *_, (t, sequence, probabilities) = it.generate(model, 2, 0.7, seed=3, known=known, n_known=10)
    assert t == model.cfg.n_positions - 1
    assert torch.equal(sequence[:, :10], known[:, :10])
    assert sequence.min() >= 0 and sequence.max() < model.cfg.levels
    torch.testing.assert_close(probabilities.sum(-1), torch.ones(2))
    with pytest.raises(ValueError):
        next(it.generate(model, 1, 0.0))


def test_baselines():
    train, test = it.digit_levels("train"), it.digit_levels("test")
    assert train.shape[1:] == (8, 8, 1) and len(train) + len(test) == 1797 and int(train.max()) == 16
    found = it.baseline_bits_per_dim(train, test, 17)
    assert found["uniform"] == pytest.approx(np.log2(17))
    assert 1.0 < found["per_pixel_marginals"] < found["uniform"]


@pytest.mark.parametrize("attention", it.ATTENTIONS)
def test_shipped_checkpoint_reaches_its_bits_per_dim_and_beats_the_baselines(attention):
    """Re-measures the tab's claim (results/image-transformer.json) from the shipped weights."""
    from papers import results

    exp = next(e for e in it.EXPERIMENTS if e.id == f"test_bits_per_dim_{attention}")
    stored = results.claim("image-transformer", exp.id)
    now = exp.measure(stored["seeds"][0], False)
    assert now["ours"] == pytest.approx(stored["ours"]["per_seed"][0], abs=exp.tolerance)
    assert now["ours"] < now["per_pixel_marginals"] - 0.4 < now["uniform"]
    model = it.load_model(attention, "cpu")
    train, test = it.digit_levels("train"), it.digit_levels("test")
    marginals = it.baseline_bits_per_dim(train, test, 17)["per_pixel_marginals"]
    assert it.evaluate_bits_per_dim(model, test) < marginals - 0.4


def test_picture_to_levels_finds_a_dark_stroke_on_white():
    picture = np.full((100, 60, 3), 255, np.uint8)
    picture[10:90, 25:35] = 0  # a "1"
    levels = it.picture_to_levels(picture)
    assert levels.shape == (8, 8) and levels.max() == 16
    assert levels[:, 3:5].mean() > 10 * max(levels[:, :2].mean(), 0.1)
    with pytest.raises(ValueError):
        it.picture_to_levels(np.full((20, 20, 3), 255, np.uint8))


# --------------------------------------------------------------------------- the tab
@pytest.fixture
def tab(monkeypatch):
    import demos.image_transformer as tab

    monkeypatch.setattr(tab, "FRAME_SECONDS", 0.0)
    return tab


def test_sample_streams_pixels(tab):
    frames = list(tab.sample("2d", 1.0, 2, 0))
    assert len(frames) == 65  # one frame per pixel, then the finished images
    picture, status = frames[-1]
    assert picture.ndim == 3 and picture.dtype == np.uint8 and "Done" in status
    assert not np.array_equal(frames[0][0], picture)


def test_the_tab_opens_on_the_same_finished_samples_and_completions(tab):
    """What opening the tab (and its Complete tab) shows: the streamed handlers' final pictures."""
    *_, (streamed, _) = tab.sample("1d", 1.0, 4, 0)
    opened, status = tab.sample_at_once("1d", 1.0, 4, 0)
    assert np.array_equal(opened, streamed) and "Done: 4 image(s)" in status and "slowed down" not in status
    *_, (given, completions, _) = tab.complete("1d", "example", 0, None, 32, 1.0, 0)
    opened_given, opened_completions, _ = tab.complete_at_once("1d", "example", 0, None, 32, 1.0, 0)
    assert np.array_equal(opened_given, given) and np.array_equal(opened_completions, completions)


@pytest.mark.parametrize("temperature,n_images,shown", [(0.1, 1, 1), (2.0, 8, 8), (1.0, None, 1), (1.0, 99, 8)])
def test_sample_at_slider_extremes(tab, temperature, n_images, shown):
    *_, (picture, status) = tab.sample("1d", temperature, n_images, None)
    assert f"Done: {shown} image(s)" in status
    side = 8 * tab.SCALE  # one 8x8 digit, drawn large
    assert picture.shape == (side, shown * side + (shown - 1) * 8, 3)  # the images side by side, 8 px apart
    digits = [picture[:, i * (side + 8): i * (side + 8) + side] for i in range(shown)]
    assert all(d.max() > 128 for d in digits)  # every digit has ink: all its pixels were written


def test_lower_temperature_gives_likelier_and_less_varied_samples():
    """What the temperature slider does: the samples' own bits/dim under the model rise with T."""
    model = it.load_model("1d", "cpu")

    def samples(temperature):
        *_, (_, sequence, _) = it.generate(model, 12, temperature, seed=0)
        return it.to_images(model.cfg, sequence)  # (12, 8, 8, 1)

    cold, warm, hot = samples(0.1), samples(1.0), samples(2.0)
    bits = [it.evaluate_bits_per_dim(model, images) for images in (cold, warm, hot)]
    assert bits[0] < bits[1] < bits[2]
    assert (cold.float().std(0).mean() < hot.float().std(0).mean())  # colder: the samples agree more


def test_complete_keeps_the_given_part(tab):
    frames = list(tab.complete("1d", "example", 3, None, 32, 1.0))
    given, picture, status = frames[-1]
    assert len(frames) == 33 and "Done" in status
    top = picture[: 4 * tab.SCALE, : 8 * tab.SCALE]
    assert np.array_equal(top[4:-4, 4:-4], given[: 4 * tab.SCALE][4:-4, 4:-4])  # same top half


@pytest.mark.parametrize("n_known", [0, 63])
def test_complete_extremes_and_drawings(tab, n_known):
    drawing = np.full((200, 200, 4), 0, np.uint8)
    drawing[20:180, 90:110] = (0, 0, 0, 255)  # a black stroke on a transparent canvas
    *_, (given, picture, status) = tab.complete("2d", "drawing", 0, {"composite": drawing}, n_known, 1.0)
    assert "Done" in status


@pytest.mark.parametrize("drawing", [None, {"composite": np.zeros((50, 50, 4), np.uint8)},
                                     np.zeros((1, 1, 3), np.uint8)])
def test_complete_rejects_empty_drawings(tab, drawing):
    with pytest.raises(gr.Error):
        list(tab.complete("1d", "drawing", 0, drawing, 32, 1.0))


def test_receptive_fields_and_bad_choices(tab):
    one_d, two_d, heat, note = tab.receptive_fields(7, 7, "2d", 448, 4, 4)
    assert one_d.shape == two_d.shape == heat.shape and not np.array_equal(one_d, two_d)
    assert "may look at" in note
    tab.receptive_fields(0, 0, "1d", 0, 1, 1)
    with pytest.raises(gr.Error):
        tab.receptive_fields(0, 0, "3d", 0, 1, 1)
    with pytest.raises(gr.Error):
        list(tab.sample(None, 1.0, 4, 0))


def test_likelihood_tab_shows_the_digits_bits(tab):
    digit, heat, note = tab.likelihood("1d", 3)
    assert digit.shape == heat.shape == (8 * tab.SCALE, 8 * tab.SCALE, 3)
    model = it.load_model("1d", "cpu")
    image = it.digit_levels("test")[3]
    total = it.evaluate_bits_per_dim(model, image[None]) * 64
    assert f"{total:.1f} bits in all" in note and "bits/dim (5 seeds)" in note
    assert not np.array_equal(digit, heat)


def test_the_comparisons_ranking_comes_from_the_results(tab):
    from papers import results

    found = results.claim("image-transformer", "comparison_small")
    means = {"ours": found["ours"]["mean"], **{k: v["mean"] for k, v in found["baselines"].items()}}
    names = [tab._METHODS[key][0] for key in sorted(means, key=means.get)]
    ranking = tab._ranking()
    assert [part for chunk in ranking.split(" < ") for part in chunk.split(" ≈ ")] == names
    assert tab._ranking(claim_id="no_such_claim") == "not measured yet"
