"""mixup: the mixing itself, λ's distribution, the loss, ECE, the toy/digits runs, demo handlers."""
import gradio as gr
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from papers import mixup

torch.set_num_threads(1)


# --------------------------------------------------------------------------- mixup()
def _identifiable_batch(n=16):
    x = torch.arange(n, dtype=torch.float32)[:, None, None].expand(n, 3, 4).clone()  # x_i = i
    return x, F.one_hot(torch.arange(n), n).float()  # y_i = e_i


def test_mixed_labels_sum_to_one_and_x_y_share_one_permutation():
    x, y = _identifiable_batch()
    for seed in range(5):
        x_mixed, y_mixed, lam = mixup.mixup(x, y, alpha=1.0, generator=torch.Generator().manual_seed(seed))
        assert 0 <= lam <= 1 and torch.allclose(y_mixed.sum(1), torch.ones(len(y)))
        if abs(1 - lam) < 1e-3:
            continue
        i = torch.arange(len(x), dtype=torch.float32)
        partner = ((x_mixed[:, 0, 0] - lam * i) / (1 - lam)).round().long()  # x̃_i = λ·i + (1 − λ)·j
        assert sorted(partner.tolist()) == list(range(len(x)))  # a permutation of the batch
        expected_y = lam * y + (1 - lam) * F.one_hot(partner, len(y)).float()  # the same j for ỹ
        assert torch.allclose(y_mixed, expected_y, atol=1e-6)
        assert torch.allclose(x_mixed, lam * x + (1 - lam) * x[partner], atol=1e-5)


def test_lambda_follows_beta_alpha_alpha():
    from scipy import stats

    generator = torch.Generator().manual_seed(0)
    for alpha in (0.2, 1.0, 4.0):
        lams = np.array([mixup.sample_lambda(alpha, generator) for _ in range(3000)])
        assert stats.kstest(lams, stats.beta(alpha, alpha).cdf).pvalue > 1e-3
        assert lams.var() == pytest.approx(1 / (4 * (2 * alpha + 1)), rel=0.1)  # Var of Beta(α, α)


def test_alpha_zero_is_erm_and_generator_makes_it_reproducible():
    x, y = _identifiable_batch()
    x0, y0, lam = mixup.mixup(x, y, 0.0)
    assert lam == 1.0 and torch.equal(x0, x) and torch.equal(y0, y)
    first = mixup.mixup(x, y, 1.0, torch.Generator().manual_seed(7))
    second = mixup.mixup(x, y, 1.0, torch.Generator().manual_seed(7))
    assert first[2] == second[2] and torch.equal(first[0], second[0])


def test_soft_cross_entropy_is_the_mixed_cross_entropy():
    logits = torch.randn(8, 5)
    yi, yj = torch.randint(5, (8,)), torch.randint(5, (8,))
    lam = 0.3
    target = lam * F.one_hot(yi, 5).float() + (1 - lam) * F.one_hot(yj, 5).float()
    expected = lam * F.cross_entropy(logits, yi) + (1 - lam) * F.cross_entropy(logits, yj)
    assert mixup.soft_cross_entropy(logits, target).item() == pytest.approx(expected.item(), rel=1e-5)


# --------------------------------------------------------------------------- metrics and data
def test_expected_calibration_error():
    probs = torch.tensor([[0.9, 0.1]] * 10)
    labels = torch.tensor([0] * 5 + [1] * 5)  # 90 % confident, 50 % right
    assert mixup.expected_calibration_error(probs, labels) == pytest.approx(0.4)
    rng = torch.Generator().manual_seed(0)
    confidence = 0.5 + 0.5 * torch.rand(20000, generator=rng)
    labels = (torch.rand(20000, generator=rng) > confidence).long()  # right with probability = confidence
    calibrated = torch.stack([confidence, 1 - confidence], 1)
    assert mixup.expected_calibration_error(calibrated, labels) < 0.02


@pytest.mark.parametrize("name", mixup.TOY_SETS)
def test_toy_sets_and_label_corruption(name):
    data = mixup.toy_data(name, n_train=200, label_noise=0.25)
    assert data.x_train.shape == (200, 2) and set(data.y_test.tolist()) == {0, 1}
    assert int(data.corrupted.sum()) == 50
    with pytest.raises(ValueError):
        mixup.toy_data(name, label_noise=0.6)


def test_both_methods_learn_the_toy_problem():
    data = mixup.toy_data("moons", n_train=200, n_test=400)
    erm, mixed = mixup.train_toy(data, 0.0, steps=300), mixup.train_toy(data, 1.0, steps=300)
    assert erm.test_acc > 0.85 and mixed.test_acc > 0.8
    surface = mixup.decision_surface(mixed.model, data, resolution=64)
    assert surface.shape == (64, 64, 3) and surface.dtype == np.uint8


def test_mixup_memorises_fewer_flipped_labels_than_erm():
    """§3.4 at a small budget, over seeds: with 30 % of the labels flipped and enough steps for ERM
    to fit many of them, mixup (α = 1) fits fewer — on every seed, and by a margin on average;
    ERM's share climbs during training (memorisation happens late)."""
    erm, mixed = [], []
    for seed in (1, 2, 3):
        data = mixup.toy_data("circles", n_train=100, n_test=10, label_noise=0.3, seed=seed)
        *_, curve = mixup.memorisation_curve(data, (0.0, 1.0), steps=800, every=400, seed=seed)
        at_end = {p.method: p.flipped_fit for p in curve if p.step == 800}
        erm.append(at_end["ERM"])
        mixed.append(at_end["mixup α=1"])
        erm_curve = [p.flipped_fit for p in curve if p.method == "ERM"]
        assert erm_curve[-1] > erm_curve[0]
    assert all(e > m for e, m in zip(erm, mixed)), (erm, mixed)
    assert np.mean(erm) - np.mean(mixed) > 0.15
    assert np.mean(erm) > 0.5  # ERM did memorise: the comparison is not vacuous


def test_memorisation_curve_measures_what_the_trained_model_predicts():
    data = mixup.toy_data("moons", n_train=60, n_test=10, label_noise=0.2, seed=4)
    *_, curve = mixup.memorisation_curve(data, (0.0, 0.5), steps=30, every=10, seed=4)
    assert [p.step for p in curve] == [10, 10, 20, 20, 30, 30]
    for alpha in (0.0, 0.5):
        trained = mixup.train_toy(data, alpha, steps=30, seed=4)  # the same seeded run, on its own
        last = next(p for p in curve[-2:] if p.method == mixup.method_name(alpha))
        assert last.flipped_fit == pytest.approx(trained.corrupted_fit)
        predicted = trained.model(data.x_train).argmax(1)
        unflipped = ~data.corrupted
        assert last.clean_error == pytest.approx(float((predicted[unflipped] != data.y_train[unflipped]).float().mean()))


def test_between_points_against_a_linear_model_by_hand():
    """Fig. 2's measures on a linear softmax model, where ∇_x CE(softmax(Wx + b), ỹ) = Wᵀ(p − ỹ)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    x, y = torch.randn(30, 2), torch.randint(2, (30,))
    result = mixup.between_points(model, x, y, pairs=40, lambdas=4, seed=3)
    assert np.allclose(result.lambdas, [0.125, 0.375, 0.625, 0.875])
    generator = torch.Generator().manual_seed(3)  # the same pairs as between_points draws
    i, j = torch.randint(30, (40,), generator=generator), torch.randint(30, (40,), generator=generator)
    W = model.weight.detach()
    for k, lam in enumerate(result.lambdas):
        x_mixed = lam * x[i] + (1 - lam) * x[j]
        y_mixed = lam * F.one_hot(y[i], 2).float() + (1 - lam) * F.one_hot(y[j], 2).float()
        p = F.softmax(model(x_mixed), dim=1).detach()
        grad = (p - y_mixed) @ W  # (P, 2)
        assert result.grad_norm[k] == pytest.approx(float(grad.norm(dim=1).mean()), rel=1e-5)
        larger = torch.where(torch.tensor(lam >= 0.5), y[i], y[j])  # the label with the larger weight
        assert result.miss[k] == pytest.approx(float((p.argmax(1) != larger).float().mean()))
    assert model.training  # its mode is restored


def test_mixup_has_smaller_gradients_and_fewer_misses_between_training_points():
    """Fig. 2 at a small budget, over seeds: between random pairs of training points the loss's
    gradient w.r.t. the input is smaller with mixup than with ERM on every seed (by a large
    factor on average), and mixup misses the mixed label less often on average."""
    erm_norm, mixed_norm, erm_miss, mixed_miss = [], [], [], []
    for seed in (0, 1, 2):
        data = mixup.toy_data("moons", n_train=150, n_test=10, seed=seed)
        for alpha, norms, misses in ((0.0, erm_norm, erm_miss), (1.0, mixed_norm, mixed_miss)):
            model = mixup.train_toy(data, alpha, steps=400, seed=seed).model
            between = mixup.between_points(model, data.x_train, data.y_train, pairs=200, seed=seed)
            norms.append(float(between.grad_norm.mean()))
            misses.append(float(between.miss.mean()))
    assert all(m < e for m, e in zip(mixed_norm, erm_norm)), (mixed_norm, erm_norm)
    assert np.mean(mixed_norm) < 0.5 * np.mean(erm_norm)
    assert np.mean(mixed_miss) < np.mean(erm_miss), (mixed_miss, erm_miss)


def test_mix_images_end_points():
    a = np.full((20, 30, 3), 200, np.uint8)
    b = np.zeros((10, 10, 3), np.uint8)
    assert np.array_equal(mixup.mix_images(a, b, 1.0), a)
    assert mixup.mix_images(a, b, 0.0).max() == 0 and mixup.mix_images(a, b, 0.5).mean() == 100
    with pytest.raises(ValueError):
        mixup.mix_images(a, b, 1.5)


def test_digit_comparison_streams_and_respects_its_budget():
    runs = list(mixup.compare_on_digits(alpha=0.3, seeds=1, steps=40))
    assert [r.method for r in runs[-1].runs] == ["ERM", "mixup α=0.3"]
    assert all(0.3 < r.test_acc <= 1 and 0 <= r.test_ece <= 1 for r in runs[-1].runs)
    assert list(mixup.compare_on_digits(seeds=3, budget_s=0)) == []


# --------------------------------------------------------------------------- demo handlers
def test_demo_handlers_and_bad_inputs():
    from demos import mixup as demo

    steps = list(demo.train_toy("circles", 0.2, 1.0, 0))
    assert len(steps) == mixup.TOY_STEPS // demo.STREAM_EVERY and "mixup α=1" in steps[-1][2]
    assert steps[0][0].shape == steps[-1][1].shape == (demo.DISPLAY_SIDE, demo.DISPLAY_SIDE, 3)
    with pytest.raises(gr.Error):
        list(demo.train_toy("moons", 0.0, 0.0, 0))
    with pytest.raises(gr.Error):
        list(demo.train_toy("moons", 0.5, 1.0, 0))
    grey = np.full((40, 50), 128, np.uint8)
    rgba = np.zeros((60, 60, 4), np.uint8)
    image, label = demo.mix_two(grey, rgba, "a", "b", 0.25)
    assert image.shape == (40, 50, 3) and label == {"a": 0.25, "b": 0.75}
    assert demo.mix_two(grey, grey, "same", "same", 0.4)[1] == {"same": 1.0}
    for bad in (None, np.zeros((1, 1, 3), np.uint8)):
        with pytest.raises(gr.Error):
            demo.mix_two(bad, grey, "a", "b", 0.5)
    assert 0 <= demo.sample_lambda(0.4) <= 1
    with pytest.raises(gr.Error):
        demo.sample_lambda(0)
    assert "budget" in list(demo.compare_digits(0.3, 2, 0))[-1]
    assert "budget" in list(demo.compare_digits(0.3, 10 ** 6, -5))[-1]  # out-of-range API values are bounded
    with pytest.raises(gr.Error):
        list(demo.compare_digits(0, 2, 10))


def test_every_training_generator_runs_to_its_end(monkeypatch):
    """The handlers interleave two training generators; each must finish (and leave its model in
    eval mode), not stay suspended mid-training when the other ends or the loop stops."""
    import inspect

    from demos import mixup as demo

    started = []
    real_steps = mixup.toy_steps

    def recording(model, *args, **kwargs):
        started.append((model, real_steps(model, *args, **kwargs)))
        return started[-1][1]

    monkeypatch.setattr(mixup, "toy_steps", recording)
    list(demo.train_toy("moons", 0.2, 1.0, 0))
    monkeypatch.setattr(demo, "CURVE_STEPS", 60)
    monkeypatch.setattr(demo, "CURVE_EVERY", 20)
    list(demo.memorisation_run("moons", 0.2, 1.0, 0))
    assert len(started) == 4
    for model, run in started:
        assert inspect.getgeneratorstate(run) == inspect.GEN_CLOSED and not model.training


def test_memorisation_and_between_handlers_stream_and_refuse_bad_inputs(monkeypatch):
    from demos import mixup as demo

    monkeypatch.setattr(demo, "CURVE_STEPS", 60)
    monkeypatch.setattr(demo, "CURVE_EVERY", 20)
    outputs = list(demo.memorisation_run("circles", 0.3, 2.0, 5))
    assert len(outputs) == 3
    flipped, clean, table = outputs[-1]
    assert set(flipped["method"]) == {"ERM", "mixup α=2"} and flipped["step"].max() == 60 and len(clean) == 6
    assert "**ERM**" in table and "300" in table
    for bad in ((0.3, 0.0), (0.0, 1.0), (0.5, 1.0)):  # (flipped fraction, α)
        with pytest.raises(gr.Error):
            list(demo.memorisation_run("moons", *bad, 0))
    monkeypatch.setattr(demo, "CURVE_BUDGET_S", 0)
    *_, (_, _, table) = demo.memorisation_run("moons", 0.3, 1.0, 0)
    assert "time budget" in table and "step 20" in table
    monkeypatch.setattr(mixup, "BETWEEN_STEPS", 20)
    *_, (miss, grad, table) = demo.between_run("spirals", 2)
    assert set(miss["method"]) == {"ERM", "mixup α=1"} and len(grad) == 2 * mixup.BETWEEN_LAMBDAS
    assert (grad["‖∇x̃ loss‖"] > 0).all() and "**mixup α=1**" in table


def test_the_tab_opens_on_the_precomputed_toy_run_and_a_mix_in_the_visitors_language():
    """The shipped toy comparison (python -m demos.mixup) fills both surfaces and the table; the
    mixing section opens with the example names in the visitor's language."""
    from types import SimpleNamespace

    from demos import mixup as demo

    erm, mixed, table = demo.toy_opening()
    assert erm.shape == mixed.shape == (demo.DISPLAY_SIDE, demo.DISPLAY_SIDE, 3) and not np.array_equal(erm, mixed)
    assert "**ERM**" in table and "**mixup α=1**" in table and "Trained ahead of time" in table
    chinese = SimpleNamespace(query_params="lang=zh", headers={})
    assert "预先训练" in demo.toy_opening(chinese)[2]
    flipped, clean, table = demo.curve_opening()
    assert set(flipped["method"]) == {"ERM", "mixup α=1"} and flipped["step"].max() == demo.CURVE_STEPS
    assert "Trained ahead of time" in table and "预先训练" in demo.curve_opening(chinese)[2]
    miss, grad, table = demo.between_opening()
    assert len(miss) == len(grad) == 2 * mixup.BETWEEN_LAMBDAS and "**ERM**" in table
    for which in demo.SWEEP_CLAIMS:  # the α sweep's bars, read from results/, in α's order
        frame = demo.sweep_frame(which)
        assert list(frame["α"]) == [mixup.method_name(a) for a in mixup.SWEEP_ALPHAS]
    name_a, name_b, image, label = demo.initial_mix(chinese)
    assert (name_a, name_b) == ("猫", "咖啡") and label == {"猫": demo.INITIAL_LAMBDA, "咖啡": 1 - demo.INITIAL_LAMBDA}
