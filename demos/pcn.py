"""PCN tab: turn a photo any way you like and watch three small networks turn the faces back."""
from __future__ import annotations

import time

import gradio as gr

from demos.common import example_paths, friendly_errors, header, read_image, weights_note
from papers import pcn
from papers.checkpoints import WeightsUnavailable, gpu, is_available_locally
from papers.results import figure

SLUG = "pcn"
TITLE = "PCN face detection"
PAPER_URL = "https://arxiv.org/abs/1804.06039"
INTRO = """Shi et al., CVPR 2018. A face can be turned any way. **Progressive Calibration Networks**
do not learn every angle at once: three small networks each decide a little more about the
orientation and turn the candidate windows upright before the next one looks.
**PCN-1** slides over an image pyramid and says *face?* and *up or down?* (down ones are flipped);
**PCN-2** says *−90°, 0° or +90°?* (they are turned a quarter); **PCN-3** regresses the last
≤ 45°. The face's angle is the sum of the three. Turn the photo with the slider and compare
with a classical upright-only detector."""



def _measured() -> str:
    """The headline comparison from results/pcn.json (the authors' weights, evaluated here)."""
    return (f"**Measured here** (`python -m papers.reproduce {SLUG}`): {pcn.EXPERIMENT_FACES[False]} faces of "
            "scikit-image's LFW subset, each turned by a random angle (the seed draws the angles). PCN finds "
            f"**{figure(SLUG, 'lfw_recall_random_angles', unit=' %')}** of them; the same three networks with "
            f"every orientation decision fixed at upright find {figure(SLUG, 'lfw_recall_random_angles', 'no_calibration', ' %')}, "
            f"the upright LBP cascade {figure(SLUG, 'lfw_recall_random_angles', 'lbp_cascade', ' %')}. "
            f"PCN's angle is off by a median {figure(SLUG, 'lfw_angle_error', unit='°')}; on "
            f"{pcn.EXPERIMENT_FACES[False]} turned non-face patches it reports "
            f"{figure(SLUG, 'nonface_false_alarms', digits=0)} detections (cascade: "
            f"{figure(SLUG, 'nonface_false_alarms', 'lbp_cascade', digits=0)}). The paper measures recall on "
            "multi-oriented FDDB (Fig. 6, Table 2), which is not shipped here.")


MAX_SIDE = 800  # larger photos are downscaled first (a turned photo grows by up to √2)
MAX_DRAWN = 300  # PCN-1 candidates drawn (the best ones); thresholds near 0 leave thousands


DEFAULTS = pcn.PCNSettings()
QUARTERS = {0: "0°", 90: "+90°", 180: "180°", -90: "−90°"}  # PCN-2's decisions, as labels


def _legend() -> str:
    names = {**QUARTERS, 0: "upright (0°)", 180: "upside down (180°)"}
    return " · ".join(f'<span style="color:rgb{pcn.ORIENTATION_COLOURS[a]}; font-weight:bold">■ {name}</span>'
                      for a, name in names.items())


def _summary(detection: pcn.Detection | None, upright: list[pcn.Face], lbp_seconds: float,
             shape: tuple[int, ...], missing: str | None) -> str:
    size = f"{shape[1]}×{shape[0]}"
    lines = []
    if detection is None:
        lines.append(f"**PCN could not run:** {missing}")
    else:
        counts = " → ".join(str(len(s)) for s in detection.stages)
        ms = [f"{1000 * s:.0f}" for s in detection.seconds]
        lines.append(f"**PCN found {len(detection.faces)} face(s)** on {size} px in "
                     f"**{1000 * sum(detection.seconds):.0f} ms** on this machine "
                     f"(PCN-1 {ms[0]} + PCN-2 {ms[1]} + PCN-3 {ms[2]} ms). "
                     f"Candidates left after each stage: {counts}.")
        if not detection.faces:
            lines.append("\nNo face passed all three stages: try a smaller minimum face size or lower thresholds.")
        else:
            lines.append("\n| face | centre (x, y) | size | angle | score |\n|---|---|---|---|---|")
            lines += [f"| {n + 1} | ({f.x:.0f}, {f.y:.0f}) | {f.size:.0f} | {f.angle:+.1f}° | {f.score:.3f} |"
                      for n, f in enumerate(detection.faces[:10])]
    lines.append(f"\n**Upright-only LBP cascade:** {len(upright)} face(s) in {1000 * lbp_seconds:.0f} ms.")
    return "\n".join(lines)


@gpu(duration=30)
@friendly_errors
def detect(image, rotation=0, min_face=DEFAULTS.min_face, scale_factor=DEFAULTS.scale_factor,
           threshold_1=DEFAULTS.threshold_1, threshold_2=DEFAULTS.threshold_2, threshold_3=DEFAULTS.threshold_3):
    """Turn the photo, run PCN (keeping every stage) and the upright-only baseline."""
    settings = pcn.PCNSettings(min_face=min_face, scale_factor=scale_factor, threshold_1=threshold_1,
                               threshold_2=threshold_2, threshold_3=threshold_3)
    photo = pcn.rotate_image(read_image(image, max_side=MAX_SIDE).rgb, rotation)
    try:
        detection, missing = pcn.run_pcn(photo, settings), None
    except WeightsUnavailable as exc:
        detection, missing = None, str(exc)
    start = time.perf_counter()
    upright = pcn.detect_upright_faces(photo, min_face=min_face)
    lbp_seconds = time.perf_counter() - start

    if detection is None:
        stage_images = [photo] * 3
        final = photo
    else:
        first, second, third = detection.stages
        stage_images = [
            pcn.draw_faces(photo, first[:MAX_DRAWN]),  # colour and thick edge say up or down
            pcn.draw_faces(photo, second, [QUARTERS[pcn.nearest_quarter(f.angle)] for f in second]),
            pcn.draw_faces(photo, third, [f"{f.angle:+.0f}°" for f in third]),
        ]
        final = stage_images[2]
    baseline = pcn.draw_faces(photo, upright, ["face"] * len(upright), colour=(255, 220, 0))
    summary = _summary(detection, upright, lbp_seconds, photo.shape, missing)
    return final, baseline, *stage_images, summary


def build() -> None:
    header(TITLE, PAPER_URL, INTRO)
    gr.Markdown(_measured())
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            image = gr.Image(label="Photo (upload, webcam or paste)", type="filepath",
                             value=example_paths("pcn_turned_faces.jpg")[0],
                             sources=["upload", "webcam", "clipboard"], height=300)
            rotation = gr.Slider(0, 360, value=0, step=5, label="Turn the photo (degrees, counter-clockwise)")
            run = gr.Button("Detect faces", variant="primary")
            with gr.Accordion("Settings", open=False):
                min_face = gr.Slider(pcn.SMALLEST_FACE, 200, value=DEFAULTS.min_face, step=1,
                                     label="Minimum face size (px)")
                scale_factor = gr.Slider(1.1, 2.0, value=DEFAULTS.scale_factor, step=0.01,
                                         label="Pyramid scale factor")
                thresholds = [gr.Slider(0.0, 1.0, value=getattr(DEFAULTS, f"threshold_{n}"), step=0.01,
                                        label=f"PCN-{n} face threshold") for n in (1, 2, 3)]
            gr.Examples(example_paths("pcn_turned_faces.jpg", "astronaut.jpg"), inputs=[image])
            gr.Markdown(_weights_note())
        with gr.Column(scale=2):
            with gr.Row():
                final = gr.Image(label="PCN: faces at any angle (thick edge = top of the head)", format="png")
                baseline = gr.Image(label="Classical LBP cascade (upright faces only)", format="png")
            summary = gr.Markdown()
    gr.Markdown("### The progressive calibration: what each stage kept and decided\n"
                f"Colour = orientation decided so far: {_legend()}. The thick edge is the top of the head.")
    with gr.Row():
        stage_1 = gr.Image(label="① PCN-1: faces? up or down? (many candidates)", format="png")
        stage_2 = gr.Image(label="② PCN-2: flipped ones upright; −90°, 0° or +90°?", format="png")
        stage_3 = gr.Image(label="③ PCN-3: the last ≤45°, final angle = sum", format="png")

    inputs = [image, rotation, min_face, scale_factor, *thresholds]
    outputs = [final, baseline, stage_1, stage_2, stage_3, summary]
    run.click(detect, inputs, outputs, api_name=f"{SLUG}_detect")
    rotation.input(detect, inputs, outputs, api_name=f"{SLUG}_turn", trigger_mode="always_last")
    image.change(detect_new_image, inputs, outputs, api_name=f"{SLUG}_new_image")
    _build_live()


# --------------------------------------------------------------------------- live (webcam)
LIVE_SIDE = 640  # webcam frames are downscaled to this longer side before detection
LIVE_EVERY_S = 0.1  # the browser sends a frame this often; frames that arrive while one is
LIVE_LIMIT_S = 120  # being detected are dropped (trigger_mode="always_last"), not queued
FPS_WINDOW_S = 3.0  # the frame rate shown is over the frames finished in the last few seconds


def _fit_frame(frame):
    """A webcam frame -> (H, W, 3) uint8 RGB no larger than LIVE_SIDE (fast: no notes, no toasts)."""
    import numpy as np

    from papers.images import to_rgb

    return to_rgb(np.asarray(frame), max_side=LIVE_SIDE).rgb


@gpu(duration=10)  # one webcam frame
@friendly_errors
def live_frame(frame, min_face=DEFAULTS.min_face, finished=None):
    """One webcam frame: PCN's rotated boxes and angles drawn on it, the milliseconds it took and
    the frames per second achieved over the last few seconds (`finished`: per-visitor times)."""
    finished = [t for t in (finished or []) if time.monotonic() - t < FPS_WINDOW_S]
    if frame is None:
        return None, "Turn on the webcam and press record.", finished
    try:
        photo = _fit_frame(frame)
    except Exception:  # a malformed frame is skipped, the stream goes on
        return None, "This frame could not be read; waiting for the next one.", finished
    settings = pcn.PCNSettings(min_face=min_face)
    try:
        detection = pcn.run_pcn(photo, settings)
    except WeightsUnavailable:
        return photo, "The PCN weights are not available, so nothing is detected (see above).", finished
    faces = detection.faces
    drawn = pcn.draw_faces(photo, faces, [f"{f.angle:+.0f}°" for f in faces])
    finished.append(time.monotonic())
    fps = (len(finished) - 1) / max(finished[-1] - finished[0], 1e-6) if len(finished) > 1 else None
    angles = ", ".join(f"{f.angle:+.0f}°" for f in faces[:5]) or "none"
    text = (f"**{len(faces)} face(s)** (angles: {angles}) · {1000 * sum(detection.seconds):.0f} ms for "
            f"this {photo.shape[1]}×{photo.shape[0]} frame · "
            + (f"**{fps:.1f} frames/s** shown " if fps is not None else "measuring frames/s… ")
            + "(frames that arrive while one is being detected are dropped)")
    return drawn, text, finished


def _build_live() -> None:
    with gr.Accordion("Live: your webcam, in real time", open=False):
        gr.Markdown("The paper's title promises *real-time* rotation-invariant detection on a CPU. "
                    "Press record, then turn your head or your laptop: the boxes and angles follow. "
                    f"Frames are detected at up to {LIVE_SIDE} px; the stream stops after "
                    f"{LIVE_LIMIT_S // 60} minutes (press record again to go on).")
        with gr.Row():
            camera = gr.Image(label="Webcam", sources=["webcam"], streaming=True, type="numpy", height=300)
            shown = gr.Image(label="PCN, live (thick edge = top of the head)", height=300)
        with gr.Row():
            live_min_face = gr.Slider(pcn.SMALLEST_FACE, 200, value=DEFAULTS.min_face, step=1,
                                      label="Minimum face size (px)")
        status = gr.Markdown()
        finished = gr.State([])
        camera.stream(live_frame, [camera, live_min_face, finished], [shown, status, finished],
                      api_name=f"{SLUG}_live", stream_every=LIVE_EVERY_S, time_limit=LIVE_LIMIT_S,
                      trigger_mode="always_last", concurrency_limit=2, concurrency_id=f"{SLUG}_live",
                      show_progress="hidden")


def detect_new_image(image, *settings):
    """A new photo (upload, webcam, example) is detected at once; clearing it clears the results."""
    if image is None:
        return None, None, None, None, None, ""
    return detect(image, *settings)


def _weights_note() -> str:
    missing = [c for c in pcn.CHECKPOINTS if not is_available_locally(c)]
    if not missing:
        return f"✅ The authors' PCN weights were found locally ({pcn.WEIGHTS_TOTAL_BYTES / 1e6:.1f} MB)."
    return weights_note(missing[0], adds="the three PCN networks (the baseline works without them)")


def bench_default():
    """The tab's main handler once, at default settings, on the shipped example."""
    return detect(example_paths("pcn_turned_faces.jpg")[0])
