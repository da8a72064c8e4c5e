"""Paper Demo Gallery: classic computer-vision papers, one interactive tab each.

    python app.py                 # the whole gallery
    python app.py --paper stn     # one demo alone (e.g. to embed it)

`build_app()` returns the Blocks without launching it (tests and embedding use it).
"""
from __future__ import annotations

import argparse
import logging
import os

from papers import checkpoints  # noqa: F401  (imports `spaces` before CUDA is touched)
import gradio as gr

import demos
from demos import gallery, response_cache
from demos.common import scrub_paths
from demos.i18n import app_kwargs, t, translations

QUEUE_MAX_SIZE = 64
DEFAULT_CONCURRENCY = 2  # per event unless an event sets its own concurrency id/limit
MAX_UPLOAD = "20mb"
CSS = """.pg-title p { font-size: 2em; font-weight: 700; margin: 0.2em 0; }
.pg-tab-title p { font-size: 1.5em; font-weight: 700; margin: 0.2em 0 0; }
.prose th, .prose td { min-width: 6.5em; }  /* result tables: a number and its ± stay on one line */
.prose th { overflow-wrap: normal; word-break: normal; }  /* a header word is never split */
.prose th:first-child, .prose td:first-child { min-width: 13em; }
@media (max-width: 640px) {  /* phones: wide result tables scroll sideways */
  .prose table { display: block; overflow-x: auto; }
}"""  # titles are one translated value
CACHE_CLEANUP = (1800, 3600)  # every 30 min, delete cached files older than an hour
THREADS_ENV = "GALLERY_TORCH_THREADS"  # torch intra-op threads for the whole process (default below)


def default_torch_threads(cpus: int | None = None) -> int:
    """One intra-op thread per request on a machine with <= 2 cores: concurrent visitors then run
    side by side on Gradio's worker threads, and a busy 2-core CPU does not make two threads wait
    for each other at every op (bench/threads.py: a 512² U-Net took ~1.7 s with 1 thread and
    10-20 s with 2 on a loaded machine). Larger machines (not measured here): half the cores,
    at most 4, since several requests run at once."""
    cpus = cpus or os.cpu_count() or 1
    return 1 if cpus <= 2 else min(4, cpus // 2)


def configure_torch_threads(environ=None) -> int:
    """Set torch's intra-op thread count once, at start-up, before any request runs; handlers
    never change it. ``$GALLERY_TORCH_THREADS`` overrides the default."""
    import torch

    environ = os.environ if environ is None else environ
    raw = str(environ.get(THREADS_ENV, "")).strip()
    threads = int(raw) if raw.isdigit() and int(raw) > 0 else default_torch_threads()
    torch.set_num_threads(threads)
    return threads

TAGLINE = ("Classic computer-vision papers you can *use*: your own image in, the paper's idea visible out, "
           "on a CPU in seconds. Each tab cites its paper and lists where it differs from it.")


# ?tab=slug: the browser selects the tab itself as the page loads (no round trip to the server);
# selecting it fires the tab's select event, which fills that tab (demos.common.on_tab_open).
DEEP_LINK_JS = """() => {
  const slug = new URLSearchParams(window.location.search).get("tab");
  if (!slug) return;
  let tries = 0;
  const pick = () => {
    const button = document.querySelector(`button[role=tab][data-tab-id="${CSS.escape(slug)}"]`);
    if (button) { if (button.getAttribute("aria-selected") !== "true") button.click(); }
    else if (++tries < 100) setTimeout(pick, 30);
  };
  pick();
}"""


def _build_tab(demo: demos.Demo) -> None:
    try:
        demo.build()
    except Exception as exc:  # this tab shows its error (no server paths); the rest of the gallery starts
        logging.getLogger("demos").error("tab %s failed to build", demo.slug, exc_info=exc)
        gr.Markdown(f"### This demo failed to start\n`{type(exc).__name__}: {scrub_paths(str(exc))}`")


def build_app(paper: str | None = None) -> gr.Blocks:
    """The gallery (or one demo when `paper` is a slug), not launched."""
    if paper is not None:
        chosen = [d for d in demos.TABS if d.slug == paper]
        if not chosen:
            raise SystemExit(f"Unknown paper '{paper}'. Choose one of: {', '.join(d.slug for d in demos.TABS)}")
        with gr.Blocks(title=chosen[0].title, delete_cache=CACHE_CLEANUP) as app:
            _build_tab(chosen[0])
        return app.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=DEFAULT_CONCURRENCY)

    with gr.Blocks(title="Paper Demo Gallery", delete_cache=CACHE_CLEANUP) as app:
        gr.Markdown(t("Paper Demo Gallery"), elem_classes="pg-title")  # one translated value each
        gr.Markdown(t(TAGLINE))
        if not demos.TABS:  # (an empty gr.Tabs breaks the page)
            gr.Markdown("The first tabs are being built; the papers above are coming.")
        else:
            with gr.Tabs(overflow_behavior="wrap"):  # every title in reach, none behind a menu
                with gr.Tab(t(gallery.TITLE), id=gallery.SLUG):
                    gallery.build()
                for demo in demos.TABS:
                    with gr.Tab(t(demo.title), id=demo.slug):
                        _build_tab(demo)
            app.load(None, js=DEEP_LINK_JS)  # the front page itself runs nothing on the server
    return app.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=DEFAULT_CONCURRENCY)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", help="serve one demo alone, by slug")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link")
    return parser.parse_args(argv)


def launch_kwargs(args: argparse.Namespace) -> dict:
    return dict(server_name=args.host, server_port=args.port, share=args.share, ssr_mode=False, css=CSS,
                max_file_size=MAX_UPLOAD, show_error=False)  # only gr.Error messages (visitor-caused) reach the page


def main(argv=None) -> None:
    args = parse_args(argv)
    if not logging.getLogger().handlers:  # handlers' failures are logged with their tracebacks
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_torch_threads()
    app = build_app(args.paper)  # built first: translations() covers every string it wrapped
    response_cache.install()  # before launch creates the server app
    app.launch(**launch_kwargs(args), i18n=translations(), app_kwargs=app_kwargs())


if __name__ == "__main__":
    main()
