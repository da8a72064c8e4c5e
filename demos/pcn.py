"""PCN tab: turn a photo any way you like and watch three small networks turn the faces back."""
from __future__ import annotations

import time

import gradio as gr

from demos.common import (cjk_markdown, enclosing_tab, example_paths, friendly_errors, header, on_tab_open,
                          read_image, weights_note, weights_note_zh)
from demos.i18n import localized, say, t, zh_figure
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


INTRO_ZH = cjk_markdown("""Shi 等，CVPR 2018。人脸可以朝任何方向转。**渐进校准网络**（Progressive Calibration Networks）
并不一次学会所有角度：三个小网络各自对朝向多判断一点，并在下一个网络查看之前把候选窗口转正。
**PCN-1** 在图像金字塔上滑动，判断*是不是人脸*、*朝上还是朝下*（朝下的翻转过来）；
**PCN-2** 判断 *−90°、0° 还是 +90°*（再转四分之一圈）；**PCN-3** 回归剩下的 ≤ 45°。
人脸的角度就是三者之和。用滑块旋转照片，再和只能检测正立人脸的经典检测器比一比。""")



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


def _measured_zh() -> str:
    """_measured in Chinese: the same figures from results/pcn.json."""
    def fig(claim_id, method="ours", unit=" %", **kwargs):
        return zh_figure(figure(SLUG, claim_id, method, unit, **kwargs))

    faces = pcn.EXPERIMENT_FACES[False]
    return (f"**本机实测**（`python -m papers.reproduce {SLUG}`）：scikit-image 的 LFW 子集中的 {faces} 张人脸，"
            "每张转一个随机角度（随机种子决定角度）。PCN 找到其中的 "
            f"**{fig('lfw_recall_random_angles')}**；同样三个网络、但把每个朝向判断都固定为正立，只找到 "
            f"{fig('lfw_recall_random_angles', 'no_calibration')}；只认正立人脸的 LBP 级联检测器找到 "
            f"{fig('lfw_recall_random_angles', 'lbp_cascade')}。PCN 估计的角度误差中位数为 "
            f"{fig('lfw_angle_error', unit='°')}；在 {faces} 块转过的非人脸图块上，它报告 "
            f"{fig('nonface_false_alarms', unit='', digits=0)} 个检测（级联检测器："
            f"{fig('nonface_false_alarms', 'lbp_cascade', unit='', digits=0)}）。论文在多朝向的 FDDB 上测量召回率"
            "（图 6、表 2），该数据集没有随本项目提供。")


MAX_SIDE = 800  # larger photos are downscaled first (a turned photo grows by up to √2)
MAX_DRAWN = 300  # PCN-1 candidates drawn (the best ones); thresholds near 0 leave thousands


DEFAULTS = pcn.PCNSettings()
QUARTERS = {0: "0°", 90: "+90°", 180: "180°", -90: "−90°"}  # PCN-2's decisions, as labels


def _legend(zh: bool = False) -> str:
    names = ({**QUARTERS, 0: "正立（0°）", 180: "倒立（180°）"} if zh
             else {**QUARTERS, 0: "upright (0°)", 180: "upside down (180°)"})
    return " · ".join(f'<span style="color:rgb{pcn.ORIENTATION_COLOURS[a]}; font-weight:bold">■ {name}</span>'
                      for a, name in names.items())


def _summary(detection: pcn.Detection | None, upright: list[pcn.Face], lbp_seconds: float,
             shape: tuple[int, ...], missing: str | None, request=None) -> str:
    size = f"{shape[1]}×{shape[0]}"
    lines = []
    if detection is None:
        lines.append(say(request, f"**PCN could not run:** {missing}",
                         f"**PCN 无法运行：** 缺少权重（见下方的权重说明）。{missing}"))
    else:
        counts = " → ".join(str(len(s)) for s in detection.stages)
        ms = [f"{1000 * s:.0f}" for s in detection.seconds]
        total = f"{1000 * sum(detection.seconds):.0f}"
        lines.append(say(request,
                         f"**PCN found {len(detection.faces)} face(s)** on {size} px in "
                         f"**{total} ms** on this machine (PCN-1 {ms[0]} + PCN-2 {ms[1]} + PCN-3 {ms[2]} ms). "
                         f"Candidates left after each stage: {counts}.",
                         f"**PCN 找到 {len(detection.faces)} 张人脸**（{size} 像素），在本机上用时 **{total} ms**"
                         f"（PCN-1 {ms[0]} + PCN-2 {ms[1]} + PCN-3 {ms[2]} ms）。各阶段后剩下的候选窗口：{counts}。"))
        if not detection.faces:
            lines.append("\n" + say(request, "No face passed all three stages: try a smaller minimum face size or lower thresholds.",
                                    "没有人脸通过全部三个阶段：试试更小的最小人脸尺寸，或更低的阈值。"))
        else:
            lines.append("\n" + say(request, "| face | centre (x, y) | size | angle | score |",
                                    "| 人脸 | 中心 (x, y) | 边长 | 角度 | 分数 |") + "\n|---|---|---|---|---|")
            lines += [f"| {n + 1} | ({f.x:.0f}, {f.y:.0f}) | {f.size:.0f} | {f.angle:+.1f}° | {f.score:.3f} |"
                      for n, f in enumerate(detection.faces[:10])]
    lines.append("\n" + say(request, f"**Upright-only LBP cascade:** {len(upright)} face(s) in {1000 * lbp_seconds:.0f} ms.",
                            f"**只认正立人脸的 LBP 级联检测器：** {len(upright)} 张人脸，用时 {1000 * lbp_seconds:.0f} ms。"))
    return "\n".join(lines)


@gpu(duration=30)
@friendly_errors
def detect(image, rotation=0, min_face=DEFAULTS.min_face, scale_factor=DEFAULTS.scale_factor,
           threshold_1=DEFAULTS.threshold_1, threshold_2=DEFAULTS.threshold_2, threshold_3=DEFAULTS.threshold_3,
           request: gr.Request = None):
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
    # OpenCV draws Latin text only: in Chinese the baseline's boxes go unlabelled (the panel says what they are)
    baseline = pcn.draw_faces(photo, upright, [say(request, "face", "")] * len(upright), colour=(255, 220, 0))
    summary = _summary(detection, upright, lbp_seconds, photo.shape, missing, request)
    return final, baseline, *stage_images, summary, _views(photo, detection, request)


VIEW_SCALE = 4  # the networks' 24 and 48 px inputs, enlarged for the page


def _views(photo, detection, request=None) -> list[tuple] | None:
    """The best face as each network saw it (its actual input crop), with the angle it decided."""
    if detection is None or not detection.faces:
        return None
    import numpy as np

    captions = (say(request, "PCN-1 input (24 px): up or down? θ1 = {:+.0f}°", "PCN-1 的输入（24 像素）：朝上还是朝下？θ1 = {:+.0f}°"),
                say(request, "PCN-2 input (24 px, after θ1): θ2 = {:+.0f}°", "PCN-2 的输入（24 像素，按 θ1 转过）：θ2 = {:+.0f}°"),
                say(request, "PCN-3 input (48 px, after θ1 + θ2): θ3 = {:+.1f}°",
                    "PCN-3 的输入（48 像素，按 θ1 + θ2 转过）：θ3 = {:+.1f}°"))
    views = pcn.stage_views(photo, detection)
    scale = [VIEW_SCALE * 2, VIEW_SCALE * 2, VIEW_SCALE]  # all shown at the same size
    return [(np.kron(v.crop, np.ones((k, k, 1), np.uint8)), caption.format(v.decided))
            for v, k, caption in zip(views, scale, captions)]


STAGES_NOTE = ("### The progressive calibration: what each stage kept and decided\n"
               f"Colour = orientation decided so far: {_legend()}. The thick edge is the top of the head.")
STAGES_NOTE_ZH = ("### 渐进校准：每个阶段保留了什么、判断了什么\n"
                  f"颜色 = 到这一步为止判断出的朝向：{_legend(zh=True)}。粗的一边是头顶。")


def build() -> None:
    header(TITLE, PAPER_URL, t(INTRO))
    gr.Markdown(localized(_measured(), _measured_zh()))
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            image = gr.Image(label=t("Photo (upload, webcam or paste)"), type="filepath",
                             value=example_paths("pcn_turned_faces.jpg")[0],
                             sources=["upload", "webcam", "clipboard"], height=300)
            rotation = gr.Slider(0, 360, value=0, step=5, label=t("Turn the photo (degrees, counter-clockwise)"))
            run = gr.Button(t("Detect faces"), variant="primary")
            with gr.Accordion(t("Settings"), open=False):
                min_face = gr.Slider(pcn.SMALLEST_FACE, 200, value=DEFAULTS.min_face, step=1,
                                     label=t("Minimum face size (px)"))
                scale_factor = gr.Slider(1.1, 2.0, value=DEFAULTS.scale_factor, step=0.01,
                                         label=t("Pyramid scale factor"))
                thresholds = [gr.Slider(0.0, 1.0, value=getattr(DEFAULTS, f"threshold_{n}"), step=0.01,
                                        label=t(f"PCN-{n} face threshold")) for n in (1, 2, 3)]
            gr.Examples(example_paths("pcn_turned_faces.jpg", "astronaut.jpg"), inputs=[image], label=t("Examples"))
        with gr.Column(scale=2):
            with gr.Row():
                final = gr.Image(label=t("PCN: faces at any angle (thick edge = top of the head)"), format="png")
                baseline = gr.Image(label=t("Classical LBP cascade (upright faces only)"), format="png")
            summary = gr.Markdown()
    gr.Markdown(localized(STAGES_NOTE, STAGES_NOTE_ZH))
    with gr.Row():
        stage_1 = gr.Image(label=t("① PCN-1: faces? up or down? (many candidates)"), format="png")
        stage_2 = gr.Image(label=t("② PCN-2: flipped ones upright; −90°, 0° or +90°?"), format="png")
        stage_3 = gr.Image(label=t("③ PCN-3: the last ≤45°, final angle = sum"), format="png")

    views = gr.Gallery(label=t("The best face as each network saw it (its input) and the angle it decided"),
                       columns=3, height=300, object_fit="contain")
    _build_sweep()

    inputs = [image, rotation, min_face, scale_factor, *thresholds]
    outputs = [final, baseline, stage_1, stage_2, stage_3, summary, views]
    run.click(detect, inputs, outputs, api_name=f"{SLUG}_detect")
    on_tab_open(detect, outputs, inputs)  # the example photo at the defaults (~0.15 s on a CPU)
    rotation.input(detect, inputs, outputs, api_name=f"{SLUG}_turn", trigger_mode="always_last")
    image.change(detect_new_image, inputs, outputs, api_name=f"{SLUG}_new_image")
    _build_live()
    gr.Markdown(localized(*_weights_note()))


# --------------------------------------------------------------------------- live (webcam)
LIVE_SIDE = 640  # webcam frames are downscaled to this longer side before detection
LIVE_EVERY_S = 0.1  # the browser captures a frame this often but sends the next one only when
LIVE_LIMIT_S = 120  # the last was answered: a slow CPU drops frames, it never queues them
LIVE_CAMERA_ID = "pcn-live-camera"
# Leaving the PCN tab stops the webcam (the stream would go on, unseen, in a hidden tab). Runs in
# the browser only, on every tab switch: press the live camera's "stop recording" if it is hidden.
STOP_WHEN_HIDDEN_JS = f"""() => {{ setTimeout(() => {{
  const camera = document.getElementById("{LIVE_CAMERA_ID}");
  const stop = camera && camera.querySelector('button.capture-button [title="stop recording"]');
  if (stop && camera.offsetParent === null) stop.closest("button").click();
}}, 50); }}"""
FPS_WINDOW_S = 3.0  # the frame rate shown is over the frames finished in the last few seconds


def _fit_frame(frame):
    """A webcam frame -> (H, W, 3) uint8 RGB no larger than LIVE_SIDE (fast: no notes, no toasts)."""
    import numpy as np

    from papers.images import to_rgb

    return to_rgb(np.asarray(frame), max_side=LIVE_SIDE).rgb


@gpu(duration=10)  # one webcam frame
@friendly_errors
def live_frame(frame, min_face=DEFAULTS.min_face, finished=None, request: gr.Request = None):
    """One webcam frame: PCN's rotated boxes and angles drawn on it, the milliseconds it took and
    the frames per second achieved over the last few seconds (`finished`: per-visitor times)."""
    finished = [t for t in (finished or []) if time.monotonic() - t < FPS_WINDOW_S]
    if frame is None:
        return None, say(request, "Turn on the webcam and press record.", "请打开摄像头并按下录制。"), finished
    try:
        photo = _fit_frame(frame)
    except Exception:  # a malformed frame is skipped, the stream goes on
        return None, say(request, "This frame could not be read; waiting for the next one.",
                         "这一帧无法读取，正在等下一帧。"), finished
    settings = pcn.PCNSettings(min_face=min_face)
    try:
        detection = pcn.run_pcn(photo, settings)
    except WeightsUnavailable:
        return photo, say(request, "The PCN weights are not available, so nothing is detected (see the weights note below).",
                          "没有 PCN 权重，所以检测不到任何东西（见下方的权重说明）。"), finished
    faces = detection.faces
    drawn = pcn.draw_faces(photo, faces, [f"{f.angle:+.0f}°" for f in faces])
    finished.append(time.monotonic())
    fps = (len(finished) - 1) / max(finished[-1] - finished[0], 1e-6) if len(finished) > 1 else None
    angles = ", ".join(f"{f.angle:+.0f}°" for f in faces[:5])
    ms, size = f"{1000 * sum(detection.seconds):.0f}", f"{photo.shape[1]}×{photo.shape[0]}"
    text = say(request,
               f"**{len(faces)} face(s)** (angles: {angles or 'none'}) · {ms} ms for this {size} frame · "
               + (f"**{fps:.1f} frames/s** shown " if fps is not None else "measuring frames/s… ")
               + "(frames that arrive while one is being detected are dropped)",
               f"**{len(faces)} 张人脸**（角度：{angles or '无'}）· 这一帧 {size} 用时 {ms} ms · "
               + (f"实际显示 **{fps:.1f} 帧/秒**" if fps is not None else "正在测量帧率…")
               + "（检测进行中到达的帧会被丢弃）")
    return drawn, text, finished


LIVE_NOTE = ("The paper's title promises *real-time* rotation-invariant detection on a CPU. "
             "Press record, then turn your head or your laptop: the boxes and angles follow. "
             f"Frames are detected at up to {LIVE_SIDE} px; the stream stops after "
             f"{LIVE_LIMIT_S // 60} minutes (press record again to go on).")
LIVE_NOTE_ZH = ("论文标题承诺的是在 CPU 上*实时*检测任意旋转的人脸。按下录制，然后转动你的头或笔记本电脑："
                f"框和角度会跟着变。每帧最长边缩到 {LIVE_SIDE} 像素再检测；{LIVE_LIMIT_S // 60} 分钟后视频流停止"
                "（再按一次录制即可继续）。")


def _build_live() -> None:
    with gr.Accordion(t("Live: your webcam, in real time"), open=False):
        gr.Markdown(t(LIVE_NOTE))
        with gr.Row():
            camera = gr.Image(label=t("Webcam"), sources=["webcam"], streaming=True, type="numpy", height=300,
                              elem_id=LIVE_CAMERA_ID)
            shown = gr.Image(label=t("PCN, live (thick edge = top of the head)"), height=300)
        with gr.Row():
            live_min_face = gr.Slider(pcn.SMALLEST_FACE, 200, value=DEFAULTS.min_face, step=1,
                                      label=t("Minimum face size (px)"))
        status = gr.Markdown()
        finished = gr.State([])
        camera.stream(live_frame, [camera, live_min_face, finished], [shown, status, finished],
                      api_name=f"{SLUG}_live", stream_every=LIVE_EVERY_S, time_limit=LIVE_LIMIT_S,
                      trigger_mode="multiple", concurrency_limit=2, concurrency_id=f"{SLUG}_live",
                      show_progress="hidden")  # (Gradio 6.31's "always_last" streams only the first frame)
    _stop_when_tab_left(camera)


def _stop_when_tab_left(camera) -> None:
    tabs = enclosing_tab(camera)
    tabs = tabs and tabs.parent  # the gallery's gr.Tabs; none when the tab is served alone
    if tabs is not None:
        tabs.select(None, js=STOP_WHEN_HIDDEN_JS)


def sweep_frames(request=None):
    """The rotation sweep from results/pcn.json: recall per angle (PCN and the upright cascade)
    and PCN's angle error per angle, means over seeds."""
    import pandas as pd

    from papers.results import value

    recall, error = [], []
    for degrees in pcn.SWEEP_ANGLES:
        key = pcn.sweep_key(degrees)
        for claim, name in (("angle_sweep_recall", "PCN"), ("angle_sweep_cascade_recall", "LBP cascade")):
            found = value(SLUG, claim, key)
            if found is not None:
                recall.append({"turn (°)": degrees, "faces found (%)": found, "detector": name})
        found = value(SLUG, "angle_sweep_angle_error", key)
        if found is not None:
            error.append({"turn (°)": degrees, "median angle error (°)": found, "detector": "PCN"})
    return (pd.DataFrame(recall, columns=["turn (°)", "faces found (%)", "detector"]),
            pd.DataFrame(error, columns=["turn (°)", "median angle error (°)", "detector"]))


def _build_sweep() -> None:
    recall, error = sweep_frames()
    with gr.Accordion(t("Rotation invariance: every turn from 0° to 345° (the paper's claim, measured)"), open=True):
        gr.Markdown(localized(
            f"{pcn.SWEEP_FACES[False]} LFW faces per seed, each turned by every angle in 15° steps "
            f"(`python -m papers.reproduce {SLUG}`): PCN finds {figure(SLUG, 'angle_sweep_recall', unit=' %')} of "
            f"them on average over the turns, the upright-only cascade "
            f"{figure(SLUG, 'angle_sweep_cascade_recall', unit=' %')}; PCN's angle is off by a median "
            f"{figure(SLUG, 'angle_sweep_angle_error', unit='°')}.",
            f"每个随机种子取 {pcn.SWEEP_FACES[False]} 张 LFW 人脸，每张以 15° 为步长转过每个角度"
            f"（`python -m papers.reproduce {SLUG}`）：按所有角度平均，PCN 找到 "
            f"{zh_figure(figure(SLUG, 'angle_sweep_recall', unit=' %'))}，只认正立人脸的级联检测器找到 "
            f"{zh_figure(figure(SLUG, 'angle_sweep_cascade_recall', unit=' %'))}；PCN 的角度误差中位数为 "
            f"{zh_figure(figure(SLUG, 'angle_sweep_angle_error', unit='°'))}。"))
        with gr.Row():
            gr.LinePlot(recall, x="turn (°)", y="faces found (%)", color="detector", y_lim=[0, 100], height=260,
                        title=t("Faces found at each turn"))
            gr.LinePlot(error, x="turn (°)", y="median angle error (°)", color="detector", height=260,
                        title=t("PCN's angle error at each turn"))


def detect_new_image(image, rotation=0, min_face=DEFAULTS.min_face, scale_factor=DEFAULTS.scale_factor,
                     threshold_1=DEFAULTS.threshold_1, threshold_2=DEFAULTS.threshold_2,
                     threshold_3=DEFAULTS.threshold_3, request: gr.Request = None):
    """A new photo (upload, webcam, example) is detected at once; clearing it clears the results."""
    if image is None:
        return None, None, None, None, None, "", None
    return detect(image, rotation, min_face, scale_factor, threshold_1, threshold_2, threshold_3, request)


def _weights_note() -> tuple[str, str]:
    """(English, Chinese): the weights found (crediting the authors' BSD-2 licence), or how to get them."""
    missing = [c for c in pcn.CHECKPOINTS if not is_available_locally(c)]
    if not missing:
        size = f"{pcn.WEIGHTS_TOTAL_BYTES / 1e6:.1f} MB"
        return (f"The authors' PCN weights were found locally ({size}): © 2018 VIPL group (ICT, CAS), "
                "PyTorch port © 2019 Sirius Demon, BSD 2-Clause licence (weights/LICENSE-PCN).",
                f"已在本地找到作者发布的 PCN 权重（{size}）：© 2018 中国科学院计算技术研究所 VIPL 组，"
                "PyTorch 移植 © 2019 Sirius Demon，BSD 2-Clause 许可证（weights/LICENSE-PCN）。")
    return (weights_note(missing[0], adds="the three PCN networks (the baseline works without them)"),
            weights_note_zh(missing[0], adds="三个 PCN 网络（不用它们，对照的基线检测器也能运行）"))


def bench_default():
    """The tab's main handler once, at default settings, on the shipped example."""
    return detect(example_paths("pcn_turned_faces.jpg")[0])


ZH = {
    INTRO: INTRO_ZH,
    "Photo (upload, webcam or paste)": "照片（上传、摄像头或粘贴）",
    "Turn the photo (degrees, counter-clockwise)": "旋转照片（角度，逆时针）",
    "Detect faces": "检测人脸",
    "Settings": "设置",
    "Minimum face size (px)": "最小人脸尺寸（像素）",
    "Pyramid scale factor": "金字塔缩放系数",
    **{f"PCN-{n} face threshold": f"PCN-{n} 人脸阈值" for n in (1, 2, 3)},
    "Examples": "示例",
    "PCN: faces at any angle (thick edge = top of the head)": "PCN：任意角度的人脸（粗的一边 = 头顶）",
    "Classical LBP cascade (upright faces only)": "经典 LBP 级联检测器（只认正立人脸）",
    "① PCN-1: faces? up or down? (many candidates)": "① PCN-1：是人脸吗？朝上还是朝下？（大量候选）",
    "② PCN-2: flipped ones upright; −90°, 0° or +90°?": "② PCN-2：翻转后都已朝上；−90°、0° 还是 +90°？",
    "③ PCN-3: the last ≤45°, final angle = sum": "③ PCN-3：剩下的 ≤45°，最终角度 = 三者之和",
    "Live: your webcam, in real time": "实时：用你的摄像头",
    LIVE_NOTE: LIVE_NOTE_ZH,
    "Webcam": "摄像头",
    "PCN, live (thick edge = top of the head)": "PCN 实时检测（粗的一边 = 头顶）",
    "The best face as each network saw it (its input) and the angle it decided": "每个网络看到的最佳人脸（它的输入）和它判断的角度",
    "Rotation invariance: every turn from 0° to 345° (the paper's claim, measured)": "旋转不变性：从 0° 到 345° 的每个角度（实测论文的主张）",
    "Faces found at each turn": "每个角度找到的人脸",
    "PCN's angle error at each turn": "每个角度上 PCN 的角度误差",
}
