"""Regenerate the numbers a tab shows: ``python -m papers.reproduce SLUG [--quick] [--seeds N] [--only ID]``.

``--list`` names every tab's experiments; ``--check SLUG`` (or ``--check all``) re-measures the
cheap ones (``checkable``: shipped checkpoints) at their stored seeds and exits non-zero when a
value moved beyond the claim's tolerance. Results go to ``results/SLUG.json`` (see papers.results).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time

from papers.results import Experiment, load, run_experiment, write_results


def paper_module(slug: str):
    return importlib.import_module("papers." + slug.replace("-", "_"))


def slugs() -> list[str]:
    from demos import PAPERS

    return [slug for slug, _, _ in PAPERS]


def experiments(slug: str) -> list[Experiment]:
    return list(getattr(paper_module(slug), "EXPERIMENTS", []))


def reproduce(slug: str, quick: bool = False, n_seeds: int | None = None, only: list[str] | None = None) -> None:
    command = "python -m papers.reproduce " + slug + (" --quick" if quick else "")
    entries = []
    for exp in experiments(slug):
        if only and exp.id not in only:
            continue
        seeds = list(range(n_seeds or exp.seeds))
        print(f"{slug}: {exp.id} over seeds {seeds}{' (quick)' if quick else ''}", flush=True)
        start = time.perf_counter()
        entries.append(run_experiment(exp, seeds, quick))
        print(f"  done in {time.perf_counter() - start:.0f} s", flush=True)
    print("wrote", write_results(slug, entries, command))


def check(slug: str, max_seeds: int | None = None) -> list[str]:
    """Re-measure `slug`'s checkable claims; return the disagreements (empty: all agree)."""
    stored, problems = load(slug), []
    for exp in experiments(slug):
        if not exp.checkable:
            continue
        entry = stored.get(exp.id)
        if entry is None:
            problems.append(f"{slug}:{exp.id}: not in results/{slug}.json")
            continue
        seeds = entry["seeds"][:max_seeds] if max_seeds else entry["seeds"]
        for i, seed in enumerate(seeds):
            now = exp.measure(seed, entry.get("quick", False))
            was = {"ours": entry["ours"]["per_seed"][i],
                   **{k: v["per_seed"][i] for k, v in entry["baselines"].items()}}
            for key, old in was.items():
                if key not in now or abs(float(now[key]) - old) > exp.tolerance:
                    problems.append(f"{slug}:{exp.id} seed {seed} {key}: stored {old:.4g}, "
                                    f"measured {now.get(key, float('nan')):.4g} (tolerance {exp.tolerance})")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slug", nargs="?", help="a tab's slug (see --list), or 'all'")
    parser.add_argument("--list", action="store_true", help="list every tab's experiments")
    parser.add_argument("--check", action="store_true", help="re-measure the cheap claims and compare")
    parser.add_argument("--quick", action="store_true", help="smaller budgets (for a first look)")
    parser.add_argument("--seeds", type=int, help="number of seeds (default: each experiment's own)")
    parser.add_argument("--only", nargs="+", help="experiment ids to run")
    args = parser.parse_args(argv)
    if args.list:
        for slug in slugs():
            print(slug)
            for exp in experiments(slug):
                print(f"  {exp.id:32s} {exp.seeds} seeds{'  (checkable)' if exp.checkable else ''}  {exp.statement}")
        return 0
    if not args.slug:
        parser.error("give a SLUG, 'all', or --list")
    targets = slugs() if args.slug == "all" else [args.slug]
    if args.check:
        problems = [p for slug in targets for p in check(slug)]
        print("\n".join(problems) or "all checked claims agree with results/")
        return 1 if problems else 0
    for slug in targets:
        reproduce(slug, args.quick, args.seeds, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
