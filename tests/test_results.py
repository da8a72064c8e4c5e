"""One source of truth for numbers: every tab has results/SLUG.json in the schema, comparisons
use seeds, the cheap claims re-measure to the stored values, and no tab types a figure by hand."""
import json
import re

import gradio as gr
import pytest

import demos
from papers import reproduce, results

SLUGS = [slug for slug, _, _ in demos.PAPERS]
STATS_KEYS = {"mean", "sd", "n_seeds", "per_seed"}


def test_every_tab_declares_experiments_and_has_a_results_file():
    for slug in SLUGS:
        assert reproduce.experiments(slug), f"papers.{slug} declares no EXPERIMENTS"
        assert results.results_path(slug).is_file(), f"results/{slug}.json missing: python -m papers.reproduce {slug}"


@pytest.mark.parametrize("slug", SLUGS)
def test_results_file_follows_the_schema(slug):
    data = json.loads(results.results_path(slug).read_text())
    declared = {exp.id for exp in reproduce.experiments(slug)}
    stored = {c["id"] for c in data["claims"]}
    assert declared <= stored, f"not measured: {declared - stored}"
    for c in data["claims"]:
        for key in ("statement", "metric", "command", "torch", "device", "date", "seeds"):
            assert c.get(key) not in (None, ""), f"{slug}:{c['id']} lacks {key}"
        for stats in [c["ours"], *c["baselines"].values()]:
            assert STATS_KEYS <= set(stats)
            assert stats["n_seeds"] == len(stats["per_seed"]) == len(c["seeds"])
        if c["baselines"]:  # a comparison: A beats B needs seeds
            assert c["ours"]["n_seeds"] >= results.MIN_SEEDS_TO_COMPARE, f"{slug}:{c['id']} compares on one seed"
        assert results.is_finite_entry(c)


def test_summarise_reports_mean_sd_and_every_seed():
    s = results.summarise([1.0, 2.0, 3.0])
    assert s == {"mean": 2.0, "sd": 1.0, "n_seeds": 3, "per_seed": [1.0, 2.0, 3.0]}


def test_figure_formats_mean_sd_and_seeds(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    exp = results.Experiment("x", "x beats y", "% error", lambda seed, quick: {"ours": seed, "y": 10 + seed},
                             seeds=3, paper=results.Paper(1.5, "Table 1"), digits=1)
    results.write_results("demo", [results.run_experiment(exp, [0, 1, 2], log=lambda *_: None)], "cmd")
    assert results.figure("demo", "x", unit=" %") == "1.0 ± 1.0 % (3 seeds)"
    assert results.figure("demo", "x", "y") == "11.0 ± 1.0 (3 seeds)"
    assert results.paper_figure("demo", "x", unit=" %") == "1.5 %"
    assert "not measured" in results.figure("demo", "missing")
    results.load.cache_clear()


def test_check_catches_a_stored_value_that_no_longer_reproduces(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "RESULTS_DIR", tmp_path)
    exp = results.Experiment("x", "s", "m", lambda seed, quick: {"ours": 1.0}, seeds=1, checkable=True, tolerance=0.1)
    monkeypatch.setattr(reproduce, "experiments", lambda slug: [exp])
    results.write_results("demo", [results.run_experiment(exp, [0], log=lambda *_: None)], "cmd")
    assert reproduce.check("demo") == []
    moved = results.Experiment("x", "s", "m", lambda seed, quick: {"ours": 1.5}, seeds=1, checkable=True, tolerance=0.1)
    monkeypatch.setattr(reproduce, "experiments", lambda slug: [moved])
    assert reproduce.check("demo")
    results.load.cache_clear()


@pytest.mark.parametrize("slug", SLUGS)
def test_cheap_claims_re_measure_to_the_stored_values(slug):
    """`python -m papers.reproduce --check SLUG`, on the first stored seed (CI time)."""
    assert reproduce.check(slug, max_seeds=1) == []


# A figure a visitor reads: a percentage, or an EER / AR / bits-per-dim value.
FIGURE = re.compile(r"\d+(?:\.\d+)?\s?%|(?:EER|AR@?\d*|bits/dim)\D{0,12}\d+\.\d+")


def _tab_texts(blocks) -> list[str]:
    return [str(b.value) for b in blocks.blocks.values()
            if isinstance(b, (gr.Markdown, gr.HTML)) and isinstance(b.value, str)]


def test_no_tab_types_a_result_figure_by_hand():
    import app

    from demos import i18n

    blocks = app.build_app()
    shown = results.shown_figures()
    typed = []
    translated = [text for pair in i18n._PAIRS.values() for text in pair]  # localized(en, zh) values
    translated += list(i18n.used().values()) + list(i18n.chinese().values())  # t() strings, both languages
    for text in _tab_texts(blocks) + translated:
        for match in FIGURE.finditer(text):
            figure = match.group(0)
            number = re.search(r"\d+(?:\.\d+)?", figure).group(0)
            if not any(number in s for s in shown):
                typed.append(figure + " in: " + text[max(0, match.start() - 60):match.end() + 20].replace("\n", " "))
    assert not typed, "figures not read from results/:\n" + "\n".join(typed)
