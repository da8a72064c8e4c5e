"""The front page: one card per paper, grouped by theme, each with a thumbnail of its own result,
the paper's idea in one line, our headline figure beside the paper's (from results/), and a link
that opens its tab. Static HTML: opening the page runs no model."""
from __future__ import annotations

import html
from functools import cache
from pathlib import Path

import gradio as gr

from demos.common import ASSETS
from demos.i18n import localized, t, zh_figure
from demos.i18n_zh import ZH
from papers import results

SLUG = "gallery"
TITLE = "Gallery"  # translated where it is shown (demos/i18n_zh.py)
THUMBS = ASSETS / "thumbs"  # <slug>.jpg, made by `python -m demos.thumbnails`

# (theme, [(slug, the paper's idea in one line)]), in the order the page shows them.
THEMES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Seeing inside CNNs", [
        ("alexnet", "A deep CNN with ReLUs, dropout and two GPUs wins ImageNet by a wide margin."),
        ("deconvnet", "Project a feature back to pixels to see what each unit responds to."),
        ("gradcam", "Gradients of a class score weight the last conv maps: where the network looked."),
        ("texture-bias", "ImageNet CNNs classify by texture, people by shape."),
    ]),
    ("Efficient convolutions", [
        ("xception", "Separate space from channels: depthwise then pointwise convolutions."),
        ("octconv", "Store smooth features at half resolution and save multiply-adds."),
    ]),
    ("Detection and faces", [
        ("faster-rcnn", "A network proposes the regions it then classifies."),
        ("guided-anchoring", "Predict where anchors should be, and their shapes, instead of tiling them."),
        ("pcn", "Three small networks turn faces upright step by step, in real time."),
    ]),
    ("Geometry", [
        ("stn", "A layer that learns to crop, turn and zoom its own input."),
        ("rstn", "A recurrent attention that reads digits one glimpse at a time."),
        ("harmonic", "Circular-harmonic filters make rotation equivariance built in."),
    ]),
    ("Learning from pairs and mixtures", [
        ("siamese", "Learn a distance so that pairs of the same person come out close."),
        ("mixup", "Train on blends of examples and their labels."),
    ]),
    ("Generation and style", [
        ("style-transfer", "Content from deep features, style from their correlations."),
        ("image-transformer", "Self-attention over local neighbourhoods generates images pixel by pixel."),
    ]),
    ("Segmentation", [
        ("unet", "A contracting and expanding network with skips segments cells from few images."),
    ]),
]

CSS = """
.pg-theme { text-align: left; margin: 14px 0 4px; font-size: 1.05em; font-weight: 600; }
.pg-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px; }
.pg-card { display: block; border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px;
           text-decoration: none !important; color: inherit !important; text-align: left; background: var(--block-background-fill); }
.pg-card:hover { border-color: var(--color-accent); }
.pg-card img, .pg-card .pg-noimg { width: 100%; height: 120px; object-fit: cover; border-radius: 4px;
           background: var(--background-fill-secondary); }
.pg-card .pg-name { font-weight: 600; margin-top: 6px; }
.pg-card .pg-idea { font-size: 0.9em; margin-top: 2px; }
.pg-card .pg-figure { font-size: 0.85em; margin-top: 4px; color: var(--body-text-color-subdued); }
"""


def _thumbnail(slug: str) -> str:
    path = THUMBS / f"{slug}.jpg"
    if not path.is_file():
        return '<div class="pg-noimg"></div>'
    return f'<img alt="" loading="lazy" src="/gradio_api/file={path}">'  # served: gr.set_static_paths


# The claim each card shows: the paper's central finding as measured here (else the rule below).
HEADLINES = {  # slug -> claim id, or (claim id, the baseline to show beside it)
    "alexnet": "relu_speedup", "deconvnet": "occlusion_localises", "gradcam": "class_discrimination",
    "texture-bias": "shape_bias", "octconv": "retrained_accuracy_alpha_0.5", "faster-rcnn": "proposal_recall",
    "guided-anchoring": ("shipped_ar100", "rpn"), "pcn": "lfw_recall_random_angles", "rstn": "shipped_digit_error",
    "mixup": "memorised_flipped_labels_moons", "image-transformer": "test_bits_per_dim_1d",
    "unet": ("nuclei_f1", "otsu_watershed"),
    "style-transfer": "offline_texture_style_loss", "xception": "xception_macs",
    "stn": "test_error_RTS", "harmonic": "upright_trained_rotated_error", "siamese": ("orl_unseen_eer", "pixels"),
}


def _headline_entry(slug: str) -> tuple[str, str | None]:
    """HEADLINES[slug] as (claim id, baseline key or None: the claim's first baseline)."""
    entry = HEADLINES.get(slug, "")
    return entry if isinstance(entry, tuple) else (entry, None)


def headline_claim(slug: str) -> dict | None:
    """The claim a card shows: its HEADLINES entry, else the first comparison with the paper's
    figure, else the first comparison, else the first claim."""
    claims = list(results.load(slug).values())
    chosen = results.claim(slug, _headline_entry(slug)[0])
    if chosen:
        return chosen
    for wanted in (lambda c: c["baselines"] and c.get("paper"), lambda c: c["baselines"], lambda c: True):
        for c in claims:
            if wanted(c):
                return c
    return None


WORDS = {"en": {"none": "No measured result yet.", "ours": "ours", "vs": "vs", "paper": "paper"},
         "zh-CN": {"none": "尚无测量结果。", "ours": "我们", "vs": "对比", "paper": "论文"}}


def headline(slug: str, lang: str = "en") -> str:
    """'metric: ours X ± s (n seeds) vs baseline Y · paper Z', read from results/."""
    words, found = WORDS[lang], headline_claim(slug)
    if found is None:
        return words["none"]
    cid, labels = found["id"], found.get("labels") or {}
    text = f"{found['metric']}: {words['ours']} {seeds_in(results.figure(slug, cid), lang)}"
    wanted = _headline_entry(slug)[1] if found["id"] == _headline_entry(slug)[0] else None
    for key in [wanted] if wanted in found["baselines"] else list(found["baselines"])[:1]:
        text += f" {words['vs']} {labels.get(key, key)} {results.figure(slug, cid, key, spread=False)}"
    paper = results.paper_figure(slug, cid)
    if paper:
        text += f" · {words['paper']} {paper}"
    return text


def seeds_in(figure: str, lang: str) -> str:
    return zh_figure(figure) if lang == "zh-CN" else figure


def _words(text: str, lang: str) -> str:
    return html.escape(ZH.get(text, text) if lang == "zh-CN" else text)


def _card(slug: str, name: str, idea: str, lang: str) -> str:
    return (f'<a class="pg-card" href="?tab={slug}" target="_self">{_thumbnail(slug)}'
            f'<div class="pg-name">{_words(name, lang)}</div><div class="pg-idea">{_words(idea, lang)}</div>'
            f'<div class="pg-figure">{html.escape(headline(slug, lang))}</div></a>')


@cache
def page_html(lang: str = "en") -> str:
    from demos import PAPERS

    names = {slug: name for slug, name, _ in PAPERS}
    parts = [f"<style>{CSS}</style>"]
    for theme, papers in THEMES:
        parts.append(f'<div class="pg-theme">{_words(theme, lang)}</div><div class="pg-cards">')
        parts += [_card(slug, names[slug], idea, lang) for slug, idea in papers]
        parts.append("</div>")
    return "".join(parts)


def build() -> None:
    gr.set_static_paths([THUMBS])
    gr.Markdown(t("Seventeen classic computer-vision papers, each with its finding measured here at small "
                  "scale beside the paper's. Pick a card to open its tab."))
    gr.HTML(localized(page_html("en"), page_html("zh-CN")))


def themed_slugs() -> list[str]:
    return [slug for _, papers in THEMES for slug, _ in papers]


def thumbnail_path(slug: str) -> Path:
    return THUMBS / f"{slug}.jpg"
