"""What opening the gallery costs the server, and how fast a deep link shows its tab.

    python bench/page_open.py [--repeats 5] [--write]

Starts the app, opens it in headless Chromium as a first-time visitor (a fresh browser context
each time) and measures:
- server CPU seconds spent per page open (the server process's user+system time, read from
  /proc before the visit and after the page has settled), for the front page and a deep link;
- seconds from the page's load event until the deep-linked tab is the selected one;
- server CPU seconds to open a tab by clicking it (only that tab's work should run).
With --write the table replaces the page-open section of bench/RESULTS.md (between its markers).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.run import machine, write_section  # noqa: E402

PAGE_START, PAGE_END = "<!-- page-open:start -->", "<!-- page-open:end -->"
from bench.screenshot import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from bench.server import running_app  # noqa: E402

SETTLE_MS = 2500  # after the load event, for the page's own events to finish
DEEP_LINK = "stn"  # a tab that shows a computed result when it opens
CLICKED = "harmonic"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def selected_after_load(page, slug: str, timeout_s: float = 10.0) -> float:
    """Seconds from the load event until the tab `slug` is selected (its button aria-selected)."""
    start = page.evaluate("performance.timing.loadEventEnd") / 1000
    page.wait_for_function(
        f"() => {{ const b = document.querySelector('button[role=tab][data-tab-id=\"{slug}\"]');"
        " return b && b.getAttribute('aria-selected') === 'true'; }", timeout=timeout_s * 1000)
    return page.evaluate("Date.now()") / 1000 - start


def measure(repeats: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"front": [], "deep": [], "deep_s": [], "click": []}
    with running_app(None) as (url, proc, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(repeats + 1):  # the first round warms caches and is dropped
            for kind, query in (("front", ""), ("deep", f"?tab={DEEP_LINK}")):
                context = browser.new_context()
                page = context.new_page()
                before = cpu_seconds(proc.pid)
                page.goto(url + query, wait_until="load")
                if kind == "deep":
                    out["deep_s"].append(selected_after_load(page, DEEP_LINK))
                page.wait_for_timeout(SETTLE_MS)
                out[kind].append(cpu_seconds(proc.pid) - before)
                if kind == "front":
                    before = cpu_seconds(proc.pid)
                    page.locator(f'button[role=tab][data-tab-id="{CLICKED}"]').click()
                    page.wait_for_timeout(SETTLE_MS)
                    out["click"].append(cpu_seconds(proc.pid) - before)
                context.close()
        browser.close()
    return {k: v[1:] for k, v in out.items()}


def table(m: dict[str, list[float]]) -> str:
    def cell(values):
        return f"median {statistics.median(values):.3f} (max {max(values):.3f}, n = {len(values)})"

    return "\n".join([
        "| measurement | seconds |", "| --- | --- |",
        f"| server CPU per page open, front page | {cell(m['front'])} |",
        f"| server CPU per page open, deep link `?tab={DEEP_LINK}` (computes that tab's first result) | {cell(m['deep'])} |",
        f"| deep link: load event → its tab selected | {cell(m['deep_s'])} |",
        f"| server CPU to open the `{CLICKED}` tab by clicking it (that tab's work only) | {cell(m['click'])} |",
    ])


def write(section: str) -> None:
    """Replace the measured page-open table in RESULTS.md; the notes after it are kept."""
    write_section(f"{PAGE_START}\n## Page open ({machine()})\n\n{section}\n\n"
                  f"Made by `python bench/page_open.py --write`.\n{PAGE_END}", PAGE_START, PAGE_END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    section = table(measure(args.repeats))
    print(section, f"\n({time.perf_counter() - start:.0f} s)")
    if args.write:
        write(section)


if __name__ == "__main__":
    main()
