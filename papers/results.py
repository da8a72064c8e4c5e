"""Every number a visitor reads comes from here (DESIGN.md, "Results: every number from one command").

A paper module declares the measurements behind its claims as ``EXPERIMENTS``, a list of
`Experiment`. ``python -m papers.reproduce SLUG`` runs each one over its seeds and writes
``results/SLUG.json``; tabs, docstrings and weights/README.md read their figures back through
`figure` / `paper_figure`, so a figure is typed once — by the code that measures it.

An experiment's ``measure(seed, quick)`` returns ``{"ours": value, "<baseline>": value, ...}``:
one value per method for that seed. It must seed everything it uses from `seed` (before building
any model) so that one seed reruns to the same numbers. ``checkable`` marks experiments that
are cheap to re-measure (e.g. evaluating shipped checkpoints): ``--check`` reruns them for the
stored seeds and fails when a value moved by more than ``tolerance``.
"""
from __future__ import annotations

import datetime
import functools
import json
import math
import platform
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from papers.checkpoints import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "results"
SCHEMA_VERSION = 1
MIN_SEEDS_TO_COMPARE = 3


@dataclass(frozen=True)
class Paper:
    """The paper's own figure for a claim, with where it is in the paper."""

    value: float | None
    where: str  # e.g. "Table 1, MNIST-rot"
    note: str = ""  # e.g. "on 50,000 MNIST test digits; ours on 450"


@dataclass(frozen=True)
class Experiment:
    id: str  # unique within its paper, e.g. "rotated_test_error"
    statement: str  # one line: what is measured and what it shows
    metric: str  # unit and meaning, e.g. "% test error, digits at random angles"
    measure: Callable[[int, bool], dict[str, float]]  # (seed, quick) -> {"ours": v, baseline: v}
    seeds: int = 5  # how many seeds the full run uses (>= 3 when baselines are compared)
    higher_is_better: bool | None = None
    paper: Paper | None = None
    checkable: bool = False  # cheap to re-measure (shipped checkpoints): `--check` reruns it
    tolerance: float = 0.0  # absolute, in the metric's unit, for `--check`
    digits: int = 2  # decimals when shown
    labels: dict[str, str] = field(default_factory=dict)  # method key -> human name


# --------------------------------------------------------------------------- running
def summarise(values: list[float]) -> dict:
    values = [float(v) for v in values]
    return {"mean": statistics.fmean(values),
            "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n_seeds": len(values), "per_seed": values}


def run_experiment(exp: Experiment, seeds: list[int], quick: bool = False, log=print) -> dict:
    """Measure `exp` at every seed; return its results-file entry."""
    per_method: dict[str, list[float]] = {}
    for seed in seeds:
        values = exp.measure(seed, quick)
        if "ours" not in values:
            raise ValueError(f"{exp.id}: measure() must return an 'ours' value")
        for key, value in values.items():
            per_method.setdefault(key, []).append(float(value))
        log(f"  {exp.id} seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
    entry = {
        "id": exp.id, "statement": exp.statement, "metric": exp.metric,
        "higher_is_better": exp.higher_is_better, "seeds": list(seeds), "quick": quick,
        "ours": summarise(per_method.pop("ours")),
        "baselines": {k: summarise(v) for k, v in per_method.items()},
        "labels": exp.labels,
        "paper": None if exp.paper is None else vars(exp.paper).copy(),
        "checkable": exp.checkable, "tolerance": exp.tolerance, "digits": exp.digits,
    }
    return entry


def environment() -> dict:
    import torch

    from papers.checkpoints import get_device

    return {"torch": torch.__version__, "python": platform.python_version(),
            "device": str(get_device()), "threads": torch.get_num_threads(),
            "date": datetime.date.today().isoformat()}


def results_path(slug: str) -> Path:
    return RESULTS_DIR / f"{slug}.json"


def write_results(slug: str, entries: list[dict], command: str, merge: bool = True) -> Path:
    """Write (or update, claim by claim) results/SLUG.json."""
    path = results_path(slug)
    claims = {}
    if merge and path.is_file():
        claims = {c["id"]: c for c in json.loads(path.read_text())["claims"]}
    env = environment()
    for entry in entries:
        claims[entry["id"]] = {**entry, "command": command, **env}
    data = {"schema": SCHEMA_VERSION, "slug": slug, "claims": list(claims.values())}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    load.cache_clear()
    return path


# --------------------------------------------------------------------------- reading (the one source of truth)
@functools.cache
def load(slug: str) -> dict[str, dict]:
    """results/SLUG.json's claims by id ({} when the file is missing)."""
    path = results_path(slug)
    if not path.is_file():
        return {}
    return {c["id"]: c for c in json.loads(path.read_text())["claims"]}


def claim(slug: str, claim_id: str) -> dict | None:
    return load(slug).get(claim_id)


_SHOWN: set[str] = set()  # every figure formatted for display (the no-typed-figures test reads it)


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def figure(slug: str, claim_id: str, method: str = "ours", unit: str = "", digits: int | None = None,
           spread: bool = True) -> str:
    """'14.1 ± 0.8 % (5 seeds)' for a method of a claim; 'not measured' when absent."""
    found = claim(slug, claim_id)
    if not found:
        return "not measured yet (run `python -m papers.reproduce " + slug + "`)"
    stats = found["ours"] if method == "ours" else found["baselines"].get(method)
    if stats is None:
        return "not measured"
    digits = found.get("digits", 2) if digits is None else digits
    text = _number(stats["mean"], digits)
    n = stats["n_seeds"]
    if spread and n > 1:
        text += f" ± {_number(stats['sd'], digits)}"
    text += unit
    if spread and n > 1:
        text += f" ({n} seeds)"
    _SHOWN.add(text)
    return text


def value(slug: str, claim_id: str, method: str = "ours") -> float | None:
    """The mean of a method's measurements (for plots and logic, not for typing into text)."""
    found = claim(slug, claim_id)
    if not found:
        return None
    stats = found["ours"] if method == "ours" else found["baselines"].get(method)
    return None if stats is None else stats["mean"]


def paper_figure(slug: str, claim_id: str, unit: str = "", digits: int | None = None) -> str:
    """The paper's figure for a claim, as stored in the results file ('' when there is none)."""
    found = claim(slug, claim_id)
    if not found or not found.get("paper") or found["paper"].get("value") is None:
        return ""
    paper = found["paper"]
    digits = found.get("digits", 2) if digits is None else digits
    text = _number(paper["value"], digits) + unit
    _SHOWN.add(text)
    return text


def comparison_table(slug: str, claim_ids: list[str] | None = None) -> str:
    """Markdown table of claims: ours, each baseline (mean ± sd, seeds) and the paper's figure."""
    claims = load(slug)
    if not claims:
        return f"_No results yet: run `python -m papers.reproduce {slug}`._"
    rows = ["| claim | ours | baselines | paper |", "| --- | --- | --- | --- |"]
    for cid in claim_ids or list(claims):
        found = claims.get(cid)
        if not found:
            continue
        labels = found.get("labels") or {}
        base = "; ".join(f"{labels.get(k, k)}: {figure(slug, cid, k)}" for k in found["baselines"]) or "—"
        paper = paper_figure(slug, cid)
        if paper and found["paper"].get("where"):
            paper += f" ({found['paper']['where']})"
        rows.append(f"| {found['statement']} ({found['metric']}) | {figure(slug, cid)} | {base} | {paper or '—'} |")
    return "\n".join(rows)


def setting(text: str) -> str:
    """Mark a number in UI text as a setting or a definition ("crop 80 % of the image"), not a
    measured result, so the no-typed-figures test lets it through. Never use it for a result."""
    _SHOWN.add(text)
    return text


def shown_figures() -> set[str]:
    return set(_SHOWN)


def is_finite_entry(entry: dict) -> bool:
    return all(math.isfinite(v) for v in entry["ours"]["per_seed"])
