"""Screenshot one tab (or the whole gallery) in headless Chromium, optionally after a click.

    python bench/screenshot.py --paper stn --out /tmp/stn.png --click "Run" --wait 20
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.server import running_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def screenshot(url: str, out: Path, clicks: list[str], wait_s: float, width: int = 1400) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 1000})
        page.on("pageerror", lambda err: print(f"page error: {err}"))
        page.goto(url, wait_until="load", timeout=120_000)
        page.wait_for_timeout(3000)
        for label in clicks:
            page.get_by_role("button", name=label).first.click()
            page.wait_for_timeout(wait_s * 1000)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", help="slug of one demo; default: the whole gallery")
    parser.add_argument("--tab", help="open the gallery at ?tab=SLUG instead of --paper")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--click", action="append", default=[], help="button label to click (repeatable)")
    parser.add_argument("--wait", type=float, default=10, help="seconds to wait after each click")
    args = parser.parse_args()
    with running_app(args.paper) as (url, _, _):
        screenshot(url + (f"?tab={args.tab}" if args.tab else ""), args.out, args.click, args.wait)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
