"""Xception §4.7 at small scale: the Fig. 10 variants differ only in the intermediate activation,
the Fig. 9 toggle only in the shortcut, the parameter-matched nets match, training learns, and the
tab's curves and live run work the way Gradio calls them."""
import json

import gradio as gr
import pytest
import torch
from torch import nn

from papers import xception as X


def _structure(model: nn.Module) -> dict[str, type]:
    return {name: type(m) for name, m in model.named_modules()}


def test_fig10_variants_differ_only_in_the_intermediate_activation():
    models = {name: X.SmallXception(X.variant_config(name)) for name in X.FIG10_VARIANTS}
    structures = list(map(_structure, models.values()))
    names = set(structures[0])
    assert all(set(s) == names for s in structures)
    differing = {n for n in names if len({s[n] for s in structures}) > 1}
    assert differing and all(n.endswith(".intermediate") for n in differing)
    separable = [n for n, m in next(iter(models.values())).named_modules() if isinstance(m, X.SeparableConv2d)]
    assert differing == {n + ".intermediate" for n in separable}  # every separable conv, nothing else
    assert [s[min(differing)] for s in structures] == [nn.Identity, nn.ReLU, nn.ELU]
    shapes = [{k: v.shape for k, v in m.state_dict().items()} for m in models.values()]
    assert shapes[0] == shapes[1] == shapes[2]  # same parameters, same shapes


def test_intermediate_activation_sits_between_depthwise_and_pointwise():
    torch.manual_seed(0)
    sep = X.SeparableConv2d(4, 6, intermediate="ReLU")
    x = torch.randn(2, 4, 5, 5)
    expected = sep.pointwise(torch.relu(sep.depthwise(x)))
    torch.testing.assert_close(sep(x), expected)
    assert not torch.allclose(sep(x), sep.pointwise(sep.depthwise(x)))


def test_residual_toggle_changes_only_the_shortcut():
    with_skip = X.SmallXception(X.variant_config("no intermediate activation"))
    without = X.SmallXception(X.variant_config("no residual connections"))
    a, b = _structure(with_skip), _structure(without)
    assert set(b) <= set(a)
    assert all(".shortcut" in n for n in set(a) - set(b)) and set(a) != set(b)
    assert all(a[n] == b[n] for n in b)
    # one module, same weights: the residual output is the plain output plus the shortcut
    torch.manual_seed(0)
    res = X.XceptionModule(8, (16, 16), stride=2).eval()
    plain = X.XceptionModule(8, (16, 16), stride=2, residual=False).eval()
    plain.load_state_dict({k: v for k, v in res.state_dict().items() if not k.startswith("shortcut")})
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(res(x), plain(x) + res.shortcut(x))


def test_parameter_matched_nets_are_within_two_percent():
    budget = X.count_params(X.SmallXception(X.SmallConfig()))
    for name in ("regular convolutions", "Inception-style (Fig. 3)"):
        config = X.variant_config(name)
        model = X.SmallXception(config)
        assert abs(X.count_params(model) - budget) / budget < 0.02, name
        assert config.conv == "regular" or all(w % X.INCEPTION_SEGMENTS == 0 for w in config.entry)
        convs = {type(m.conv) for m in model.modules() if isinstance(m, X.SeparableUnit)}
        assert convs == {nn.Conv2d if config.conv == "regular" else X.InceptionStyle}
    assert X.measure_matched_params(0, True)["ours"] == budget


def test_a_tiny_training_run_improves_accuracy_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    settings = X.TrainSettings(steps=60, every=30)
    points, test = X.run_to_end(("no intermediate activation",), 0, settings)
    assert torch.equal(state, torch.get_rng_state())
    first, last = points[0].val_acc, points[-1].val_acc
    assert [p.step for p in points] == [0, 30, 60]
    assert first < 0.3 and last > first + 0.5 and test["no intermediate activation"] > 0.8  # chance: 0.1


def test_validation_digits_are_held_out_training_digits():
    split = X.digits_split()
    assert split.x_train.shape[1:] == split.x_val.shape[1:] == (1, 14, 14)
    train = {tuple(r) for r in split.x_train.flatten(1).numpy().round(4).tolist()}
    assert not any(tuple(r) in train for r in split.x_val.flatten(1).numpy().round(4).tolist()[:50])
    assert len(split.y_test) == 449


def test_shipped_curves_are_seed_0_of_the_results_run():
    from demos import xception as D
    from papers import results

    if not D.CURVES_ASSET.is_file():
        pytest.skip("no precomputed curves")
    saved = json.loads(D.CURVES_ASSET.read_text())
    stored = results.claim("xception", "fig10_test")
    assert stored and stored["seeds"][0] == saved["settings"]["seed"] == 0
    assert stored["ours"]["per_seed"][0] == pytest.approx(100 * saved["test"]["no intermediate activation"])
    assert stored["baselines"]["relu"]["per_seed"][0] == pytest.approx(100 * saved["test"]["ReLU in between"])
    fig10, fig9, matched, text = D.curves_opening()
    assert set(fig10["network"]) == set(X.FIG10_VARIANTS) and len(set(matched["network"])) == 3
    assert "|" in text


def test_tab_live_run_streams_and_rejects_bad_steps():
    from demos import xception as D

    outputs = list(D.train_live(1, 20))
    frame, table = outputs[-1]
    assert set(frame["network"]) == set(X.FIG10_VARIANTS) and frame["step"].max() == 20
    assert table.count("|") > 10
    for bad in (0, 10_000):
        with pytest.raises(gr.Error):
            list(D.train_live(0, bad))


def test_verdict_compares_seed_by_seed(monkeypatch):
    """The tab's 'ahead / behind / level' reads paired per-seed differences, not the means' overlap."""
    from demos import xception as D
    from papers import results

    fake = {"ours": {"per_seed": [80.0, 70.0, 75.0]}, "baselines": {"relu": {"per_seed": [78.0, 68.0, 73.5]}}}
    monkeypatch.setattr(results, "claim", lambda slug, cid: fake)
    assert D.relation("fig10", "test", "relu") == "ahead"  # +2, +2, +1.5: the means' sds (5) would overlap
    fake["baselines"]["relu"]["per_seed"] = [82.0, 66.0, 75.0]  # -2, +4, 0
    assert D.relation("fig10", "test", "relu") == "tie"
    fake["baselines"]["relu"]["per_seed"] = [81.0, 71.0, 76.0]
    assert D.relation("fig10", "test", "relu") == "behind"
    assert D.relation("fig10", "test", "elu") is None
    text = D.verdict()
    assert text == ""  # a comparison without its baselines is not judged


def test_verdict_from_the_stored_results():
    from demos import xception as D
    from papers import results

    if not results.claim("xception", "fig10_test"):
        pytest.skip("results/xception.json has no digits claims")
    en, zh = D.verdict(), D.verdict(chinese=True)
    assert en.count("\n- **") == zh.count("\n- **") == 3
    assert all(word in en for word in ("Fig. 10", "Fig. 9", "Same parameters"))
