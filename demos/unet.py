"""U-Net tab: segment cells with overlap-tiling, see the weight map and elastic deformations,
and fine-tune for a few seconds."""
from __future__ import annotations

import colorsys
import copy
import time

import cv2
import gradio as gr
import numpy as np
import pandas as pd

from demos.common import (comparison_table_zh, device_note_zh, example_paths, friendly_errors, header, heavy_id,
                          on_tab_open, read_grey, weights_note, weights_note_zh)
from demos.common import cjk_markdown
from demos.i18n import localized, say, t, zh_figure
from papers import unet
from papers.checkpoints import budget, gpu
from demos.common import device_note
from papers.results import claim, comparison_table, figure, setting, value


def _weight_map_effect(zh: bool = False, claim_id: str = "weight_map_f1") -> str:
    """Whether the weight map's effect on a claim's score exceeds the spread over seeds."""
    found = claim(SLUG, claim_id)
    if not found:
        return "尚未测量的幅度" if zh else "an amount not measured yet"
    ours, without = found["ours"], found["baselines"]["no_weight_map"]
    spread, up = max(ours["sd"], without["sd"]), ours["mean"] > without["mean"]
    if abs(ours["mean"] - without["mean"]) < spread:
        return "不到随机种子之间的波动" if zh else "less than the spread over seeds"
    if zh:
        return "超过随机种子之间的波动（" + ("提高" if up else "降低") + "）"
    return "more than the spread over seeds (" + ("up" if up else "down") + ")"


def _helped(zh: bool = False) -> str:
    """Whether Eq. 2 raised the seeded nuclei trainings' mean F1 and SEG (a sentence; empty if unmeasured)."""
    pairs = [(value(SLUG, c), value(SLUG, c, "no_weight_map")) for c in ("nuclei_weight_map_f1", "nuclei_weight_map_seg")]
    if any(None in pair for pair in pairs):
        return ""
    if all(a > b for a, b in pairs):
        return "在这些细胞核上公式 2 提高了 F1 和 SEG 的平均值。" if zh else "On these nuclei Eq. 2 raised the mean F1 and SEG."
    if all(a <= b for a, b in pairs):
        return "在这些细胞核上公式 2 没有带来帮助。" if zh else "On these nuclei Eq. 2 did not help."
    return "在这些细胞核上公式 2 的效果不一致。" if zh else "On these nuclei Eq. 2's effect is mixed."


_PUBLIC = "nuclei_ensemble_f1"  # what segment_nuclei and the tab's nuclei model run


def _target_note(zh: bool = False) -> str:
    """The issue's +0.10 target, against which baseline it was set, and where the U-Net stands."""
    ours = value(SLUG, _PUBLIC)
    fixed, tuned = value(SLUG, _PUBLIC, "otsu_watershed_default"), value(SLUG, _PUBLIC, "otsu_watershed")
    if ours is None or fixed is None or tuned is None:
        return ""
    met_fixed, met_tuned = ours - fixed >= 0.1, ours - tuned >= 0.1
    found = claim(SLUG, _PUBLIC)
    tied = abs(ours - tuned) < max(found["ours"]["sd"], found["baselines"]["otsu_watershed"]["sd"])
    fixed_text = figure(SLUG, _PUBLIC, "otsu_watershed_default")
    if zh:
        return ("议题要求实例 F1 比经典流程高 0.10；这个目标是对照未调参的 Otsu + 分水岭定的（议题里测得 0.70；"
                f"用我们的固定设置为 {zh_figure(fixed_text)}）。本页的细胞核 U-Net（两个模型平均）"
                + ("高于" if ours > fixed else "不高于") + "固定设置的基线" + ("，且高出 0.10 以上" if met_fixed else "，差距不到 0.10")
                + "；对设置同样在验证图像上选定的基线，它" + ("持平（差距小于重采样间的波动）" if tied else "更高" if ours > tuned else "没有更高")
                + ("，且高出 0.10 以上" if met_tuned else "") + "。所以 +0.10 的目标对固定设置的基线"
                + ("达成" if met_fixed else "没有达成") + "，对调参后的基线" + ("达成" if met_tuned else "没有达成") + "。")
    return ("The issue asked for an instance F1 0.10 above the classical pipeline; that target was set against an "
            f"untuned Otsu + watershed (0.70 in the issue's own measurement; {fixed_text} with our fixed settings). "
            "The tab's nuclei U-Net (the two models averaged) is " + ("above" if ours > fixed else "not above") + " the fixed-settings baseline"
            + (" by 0.10 or more" if met_fixed else ", by less than 0.10") + ", and "
            + ("level with (within the spread over resamples)" if tied else "above" if ours > tuned else "not above")
            + " the baseline whose settings were also chosen on the validation images" + (" by 0.10 or more" if met_tuned else "") + ": the +0.10 target is "
            + ("met" if met_fixed else "not met") + " against the fixed baseline and "
            + ("met" if met_tuned else "not met") + " against the tuned one.")


_PERTURBATIONS_ZH = {"clean": "无扰动", "dim_16bit": f"暗：12 位相机量程的 {setting('10 %')}，加相机偏置与散粒噪声，16 位存储",
                     "low_snr": "低信噪比：明亮细胞核处仅 10 个光子的泊松噪声加读出噪声",
                     "defocus": "失焦：σ = 3 像素的高斯模糊", "uneven": "照明不均：沿随机方向线性上升的背景",
                     "zoom_out": "放大倍数 × 0.5", "zoom_in": "放大倍数 × 2",
                     "saturated": "饱和亮斑：3 个细胞核亮 10 倍，按最大值存成 8 位"}
_PERTURBATIONS_EN = {"clean": "clean (no perturbation)", "dim_16bit": f"dim, 16-bit ({setting('10 %')} of a 12-bit range, offset, shot noise)",
                     "low_snr": "low SNR (10 photons at the bright nuclei, read noise)", "defocus": "defocus (blur σ = 3 px)",
                     "uneven": "uneven illumination (background ramp)", "zoom_out": "magnification × 0.5",
                     "zoom_in": "magnification × 2", "saturated": "saturated blobs (3 nuclei × 10, stored 8-bit)"}
LEVEL = 0.01  # F1 differences smaller than this are called level
_ROBUST_METHODS = ("ours", "unet_nuclei", "otsu_watershed", "otsu_watershed_retuned")


def _robustness(zh: bool = False) -> str:
    """The perturbation benchmark (results/unet.json → perturbed_*_f1) as a compact table, and where
    the U-Net is ahead of the fair (re-tuned) classical baseline by 0.10 or more."""
    ids = [f"perturbed_{kind}_f1" for kind in unet.PERTURBATIONS]
    if any(claim(SLUG, cid) is None for cid in ids):
        return ""
    header = ("| 扰动 | U-Net 集成 | U-Net（单个模型） | Otsu + 分水岭（干净验证图像上的设置） | Otsu + 分水岭（在扰动后的验证图像上重选设置） | 领先重选设置的基线 ≥ 0.10？ |"
              if zh else "| perturbation | U-Net ensemble | U-Net (single model) | Otsu + watershed (settings from clean validation) "
                         "| Otsu + watershed (settings re-chosen on perturbed validation) | ahead of the re-tuned baseline by ≥ 0.10? |")
    rows = [header, "| --- | --- | --- | --- | --- | --- |"]
    wins, ahead, level, behind = [], [], [], []
    for kind, cid in zip(unet.PERTURBATIONS, ids):
        cells = [figure(SLUG, cid, m, spread=False) for m in _ROBUST_METHODS]
        gap = value(SLUG, cid) - value(SLUG, cid, "otsu_watershed_retuned")
        name = (_PERTURBATIONS_ZH if zh else _PERTURBATIONS_EN)[kind]
        group = 0 if gap >= 0.1 else 1 if gap > LEVEL else 2 if gap >= -LEVEL else 3
        (wins, ahead, level, behind)[group].append(name)
        verdict = (("是", "否（领先不到 0.10）", "否（相差不到 0.01）", "否（落后）") if zh else
                   ("yes", "no (ahead by less)", "no (within 0.01)", "no (behind)"))[group]
        rows.append(f"| {name} | " + " | ".join(cells) + f" | {verdict} |")
    sep = "、" if zh else "; "
    none = "（无）" if zh else "(none)"
    if zh:
        lead = ("**换一台显微镜会怎样？** 在 8 张留出的 U2OS 测试图像上施加事先声明、从未调过的扰动，模拟别的显微镜"
                "（实例 F1，IoU > 0.5；每行 3 个随机种子的平均，见 results/unet.json → perturbed_*_f1）。"
                "U-Net 走 segment_nuclei 的流程（逐图估计缩放，设置在干净的验证图像上选定）；公平的经典基线在同样扰动后的"
                "8 张验证图像上重新选择设置。")
        tail = (f"U-Net 集成领先重选设置的基线 0.10 以上：{sep.join(wins) or none}；领先但不到 0.10：{sep.join(ahead) or none}；"
                f"相差不到 0.01：{sep.join(level) or none}；落后：{sep.join(behind) or none}。")
    else:
        lead = ("**Another microscope?** Fixed perturbations, declared before measuring and never tuned, applied to the "
                "8 held-out U2OS test images to mimic other microscopes (instance F1 at IoU > 0.5; each cell the mean of "
                "3 seeds, results/unet.json → perturbed_*_f1). The U-Net runs through segment_nuclei's pipeline (scale "
                "estimated per image, settings chosen on clean validation images); the fair classical baseline has its "
                "settings re-chosen on the same perturbation of the 8 validation images.")
        tail = (f"The U-Net ensemble is ahead of the re-tuned baseline by 0.10 or more under: {sep.join(wins) or none}; "
                f"ahead by less than 0.10 under: {sep.join(ahead) or none}; within 0.01 under: {sep.join(level) or none}; "
                f"behind under: {sep.join(behind) or none}.")
    return lead + "\n\n" + "\n".join(rows) + "\n\n" + tail


SLUG = "unet"
TITLE = "U-Net"
PAPER_URL = "https://arxiv.org/abs/1505.04597"
_CLAIMS = ["nuclei_f1", "nuclei_seg", "nuclei_auto_f1", "nuclei_ensemble_f1", "nuclei_ensemble_seg", "nuclei_weight_map_f1", "nuclei_weight_map_seg",
           "nuclei_weight_map_separated", "em_pixel_error", "em_rand_error", "synthetic_f1", "synthetic_seg", "synthetic_iou",
           "synthetic_recall", "synthetic_count_error", "weight_map_f1", "weight_map_iou"]
_NUC = ("真实 U2OS 细胞核（Coelho 等 2009，缩小 4 倍），8 张留出的测试图像：在 U2OS 上训练的 U-Net（unet_nuclei）对比"
        "不用权重图训练的同一模型（unet_nuclei_no_weight_map）、合成细胞 U-Net 与 Otsu + 分水岭；每个随机种子是测试图像的一次自助重采样（模型固定），各方法的设置都在 8 张验证图像上选定；"
        "未标注的边缘或失焦细胞核对所有方法都算误检")
_AUTO = ("全分辨率的真实 U2OS 细胞核，经 segment_nuclei（逐图估计缩放），8 张留出的测试图像：U-Net（两个细胞核模型平均、从核心切分）对比同一缩小图像上的 "
         "Otsu + 分水岭；每个随机种子是测试图像的一次自助重采样")
_NWM = ("真实 U2OS 细胞核（缩小 4 倍），8 张留出的测试图像：从论文的初始化出发、用与不用公式 2 的权重图训练的 U-Net，"
        f"随机种子与预算相同（Adam {unet.NUCLEI_COMPARE_STEPS} 步，每步 {unet.NUCLEI_BATCH} 块；发布的模型为 "
        f"{unet.NUCLEI_STEPS} 步），每个模型的阈值、最小面积和分水岭切分都在 8 张验证图像上选定；每个随机种子是一对训练")
_ENS = ("真实 U2OS 细胞核（缩小 4 倍），8 张留出的测试图像：在 8 张验证图像上选出的变体（在两个发布的细胞核模型各自单独、"
        "8 个旋转/翻转取平均、两者平均、以及各自从高置信核心切分这些变体中验证 F1 最高）：用与不用权重图的两个模型的 P(细胞核) "
        f"取平均，再从 P > {unet.ENSEMBLE_POST['core']} 的核心出发对 −P 做分水岭；只报告这个变体的测试得分，旁边是发布的模型与 "
        "Otsu + 分水岭；每个随机种子是测试图像的一次自助重采样")
_SEP = "被分开的接触对：相互接触的真实细胞核对中，两个细胞核各有一半以上落在某个预测目标内、且是两个不同目标的比例"
_SYN = "合成细胞：发布的 U-Net（训练 300 步）对比 Otsu + 分水岭；每个随机种子 6 张未参与训练的 256×256 图像"
_WMAP = ("合成细胞：从头训练的 U-Net，用与不用公式 2 的权重图（Adam 150 步，每步 2 块 100×100）；"
         "每个随机种子 6 张未参与训练的 256×256 图像")
_EM = ("ISBI 2012 电镜细胞膜（Cardona 等 2010），4 张留出的测试切片 26–29，原始 512×512 分辨率（从未用于任何选择）："
       "在切片 0–21 上训练的 U-Net 对比高斯平滑后的强度阈值；每个随机种子是 16 个测试四分块（256×256）的一次自助重采样"
       "（模型固定）；两种方法的阈值都在验证切片 22–25 上按最低 Rand 误差选定")
_IOU, _F1, _RECALL = "前景 IoU（像素级，细胞 vs 背景）", "IoU > 0.5 时的实例 F1（粘连算两个都漏检）", "实例召回率：以 IoU > 0.5 匹配到的真实细胞"
_SEG = "SEG（细胞追踪挑战赛）：每个真实细胞核与覆盖其一半以上的预测目标的 IoU 的平均"
_CLAIMS_ZH = {"nuclei_f1": f"{_NUC}（{_F1}）", "nuclei_seg": f"{_NUC}（{_SEG}）", "nuclei_auto_f1": f"{_AUTO}（{_F1}）",
              "nuclei_ensemble_f1": f"{_ENS}（{_F1}）", "nuclei_ensemble_seg": f"{_ENS}（{_SEG}）",
              "nuclei_weight_map_f1": f"{_NWM}（{_F1}）", "nuclei_weight_map_seg": f"{_NWM}（{_SEG}）",
              "nuclei_weight_map_separated": f"{_NWM}（{_SEP}）",
              "em_pixel_error": f"{_EM}（像素误差：膜/胞内标签错误的像素比例）",
              "em_rand_error": f"{_EM}（胞内区域的调整 Rand 误差：1 − Rand F 分数，忽略真实膜像素）",
              "synthetic_iou": f"{_SYN}（{_IOU}）", "synthetic_f1": f"{_SYN}（{_F1}）",
              "synthetic_seg": f"{_SYN}（{_SEG}）", "synthetic_recall": f"{_SYN}（{_RECALL}）",
              "synthetic_count_error": f"{_SYN}（计数误差：找到数与真实数之差的绝对值 ÷ 真实数）",
              "weight_map_f1": f"{_WMAP}（{_F1}）", "weight_map_iou": f"{_WMAP}（{_IOU}）"}
_LABELS_ZH = {"otsu_watershed": "Otsu + 分水岭", "no_weight_map": "不用权重图",
              "unet_nuclei": "U-Net（U2OS 细胞核，发布的模型）", "synthetic": "U-Net（合成细胞）",
              "otsu_watershed_default": "Otsu + 分水岭（固定设置）",
              "threshold": "平滑后的强度阈值（σ 与阈值在验证集上选定）"}
_BEST_OTSU = "otsu_watershed"  # its settings chosen on the validation images
INTRO = f"""Ronneberger, Fischer & Brox (2015) segment microscopy images with a network of **valid**
3×3 convolutions, a contracting and an expanding path joined by *copy-and-crop* skips. Because the
output is smaller than the input, any image is segmented by **overlap-tiling** with mirrored borders,
and touching cells are kept apart by a **weight map** (Eq. 2) that makes the thin gaps between
cells expensive. Three models here, all the paper's architecture at 1/8 width (0.49 M parameters):
**nuclei**, trained on 32 real U2OS nucleus images (Coelho et al. 2009) with the weight map, the
paper's elastic deformations, dropout and initialisation, and intensity, scale, blur and noise
augmentation, its threshold and object settings chosen on 8 validation images; **EM membranes**,
the paper's own ISBI 2012 task, trained at full resolution on 22 of the 30 challenge training slices
(Cardona et al. 2010) with elastic deformations, dropout and the paper's initialisation, its threshold
chosen on 4 validation slices and scored on 4 held-out ones (pixel error and Rand error beside a
smoothed intensity threshold); and **synthetic cells**, the quick demo trained on procedurally generated touching cells. Beside the
U-Net's instances the tab shows those of the classical pipeline (Otsu threshold +
distance-transform watershed) on the same image.

Measured (`python -m papers.reproduce unet`; U-Net first, the baselines beside it):

{comparison_table(SLUG, _CLAIMS)}

On the 8 held-out U2OS test images the nuclei U-Net's instance F1 is {figure(SLUG, "nuclei_f1")},
against {figure(SLUG, "nuclei_f1", _BEST_OTSU)} for Otsu + watershed with its settings chosen on the
same validation images ({figure(SLUG, "nuclei_f1", "otsu_watershed_default")} with fixed settings), and
{figure(SLUG, "nuclei_f1", "synthetic")} for the synthetic-cell U-Net; in SEG, which also scores how
well each nucleus is outlined, {figure(SLUG, "nuclei_seg")} against {figure(SLUG, "nuclei_seg", _BEST_OTSU)}.
Foreground IoU hides merged cells: a merge covers both cells' pixels but counts as a miss of both
in instance F1 (a match needs IoU > 0.5). {_target_note()} Chosen on the validation images only, among
each nuclei model alone, with its 8 rotations and flips averaged (as the paper did for EM, §4), the two
models averaged, and each cut by a watershed from its confident cores, the best variant (both models
averaged, cut from the cores) scores {figure(SLUG, "nuclei_ensemble_f1")} on the test images against
{figure(SLUG, "nuclei_ensemble_f1", _BEST_OTSU)} for the tuned Otsu + watershed (SEG
{figure(SLUG, "nuclei_ensemble_seg")} against {figure(SLUG, "nuclei_ensemble_seg", _BEST_OTSU)}); the tab's
nuclei segmentation and `papers.unet.segment_nuclei` use this variant.

{_robustness()}

**The weight map on real nuclei.** Trained from the same seed and budget with uniform pixel weights
instead of Eq. 2, the nuclei U-Net scores {figure(SLUG, "nuclei_f1", "no_weight_map")} instance F1 on the
same test images (with the weight map {figure(SLUG, "nuclei_f1")}). Over
{unet.NUCLEI_COMPARE_STEPS}-step trainings from three seeds, the weight map changes the test instance F1 by
{_weight_map_effect(claim_id="nuclei_weight_map_f1")}: {figure(SLUG, "nuclei_weight_map_f1")} with,
{figure(SLUG, "nuclei_weight_map_f1", "no_weight_map")} without. It changes SEG by
{_weight_map_effect(claim_id="nuclei_weight_map_seg")}, and the fraction of touching nucleus pairs separated
by {_weight_map_effect(claim_id="nuclei_weight_map_separated")}: {figure(SLUG, "nuclei_weight_map_separated")}
with, {figure(SLUG, "nuclei_weight_map_separated", "no_weight_map")} without (the test images hold only a few
dozen touching pairs, so this fraction is coarse). {_helped()} Both models'
instances are drawn side by side below ("The weight map on real nuclei"). Trained briefly from scratch on synthetic cells,
the Eq. 2 weight map changes instance F1 by {_weight_map_effect()}."""
INTRO_ZH = f"""Ronneberger、Fischer 与 Brox（2015）用一个全部由 **valid**（不补零）3×3 卷积构成的网络分割显微图像：
收缩路径与扩张路径之间由*复制并裁剪*的跳跃连接相连。输出比输入小，所以任意大小的图像都用**重叠切块**
（边界镜像填充）来分割；相互接触的细胞则靠**权重图**（公式 2）分开——它让细胞之间的细缝在损失中代价很高。
这里有三个模型，都是论文的结构、宽度为 1/8（0.49 M 参数）：**细胞核**模型在 32 张真实 U2OS 细胞核图像
（Coelho 等 2009）上训练，使用权重图、论文的弹性形变、dropout 与初始化，以及强度、缩放、模糊和噪声增强，
阈值和目标设置在 8 张验证图像上选定；**电镜细胞膜**模型对应论文自己的 ISBI 2012 任务，
在 30 张挑战赛训练切片（Cardona 等 2010）中的 22 张上以原分辨率训练，使用弹性形变、dropout 与论文的初始化，
阈值在 4 张验证切片上选定，在 4 张留出切片上评分（像素误差与 Rand 误差，对比平滑后的强度阈值）；**合成细胞**模型是快速演示，在程序生成的相互接触的细胞上训练。
在 U-Net 的实例旁边，本页还显示经典流程（Otsu 阈值 + 距离变换分水岭）在同一图像上的实例。

实测结果（`python -m papers.reproduce unet`；先列 U-Net，旁边是基线）：

{comparison_table_zh(SLUG, _CLAIMS, _CLAIMS_ZH, _LABELS_ZH)}

在 8 张留出的 U2OS 测试图像上，细胞核 U-Net 的实例 F1 为 {zh_figure(figure(SLUG, "nuclei_f1"))}，
设置同样在验证图像上选定的 Otsu + 分水岭为 {zh_figure(figure(SLUG, "nuclei_f1", _BEST_OTSU))}
（固定设置时为 {zh_figure(figure(SLUG, "nuclei_f1", "otsu_watershed_default"))}），
合成细胞 U-Net 为 {zh_figure(figure(SLUG, "nuclei_f1", "synthetic"))}；在同时衡量每个细胞核轮廓准确度的 SEG 上，
U-Net 为 {zh_figure(figure(SLUG, "nuclei_seg"))}，Otsu + 分水岭为 {zh_figure(figure(SLUG, "nuclei_seg", _BEST_OTSU))}。前景 IoU 会掩盖粘连：两个细胞被合成一个时，
像素上都覆盖了，但在实例 F1 中算作两个都漏检（匹配要求 IoU > 0.5）。{_target_note(zh=True)}只在验证图像上，
从各模型单独、8 个旋转/翻转取平均（论文在电镜任务上这样做，§4）、两个模型平均、以及各自从高置信核心做分水岭切分这些变体中选出的最佳变体
（两个模型平均、从核心切分）在测试图像上为 {zh_figure(figure(SLUG, "nuclei_ensemble_f1"))}，调参后的 Otsu + 分水岭为
{zh_figure(figure(SLUG, "nuclei_ensemble_f1", _BEST_OTSU))}（SEG：{zh_figure(figure(SLUG, "nuclei_ensemble_seg"))} 对
{zh_figure(figure(SLUG, "nuclei_ensemble_seg", _BEST_OTSU))}）；本页的细胞核分割和 `papers.unet.segment_nuclei` 都使用这个变体。

{_robustness(zh=True)}

**真实细胞核上的权重图。** 以相同的随机种子和预算、用均匀的像素权重代替公式 2 训练时，细胞核 U-Net 在同样的测试图像上的
实例 F1 为 {zh_figure(figure(SLUG, "nuclei_f1", "no_weight_map"))}（用权重图时为 {zh_figure(figure(SLUG, "nuclei_f1"))}）。
在三个随机种子、每次 {unet.NUCLEI_COMPARE_STEPS} 步的训练中，权重图对测试集实例 F1 的影响
{_weight_map_effect(zh=True, claim_id="nuclei_weight_map_f1")}（用：{zh_figure(figure(SLUG, "nuclei_weight_map_f1"))}，
不用：{zh_figure(figure(SLUG, "nuclei_weight_map_f1", "no_weight_map"))}），对 SEG 的影响
{_weight_map_effect(zh=True, claim_id="nuclei_weight_map_seg")}，对被分开的接触细胞核对比例的影响
{_weight_map_effect(zh=True, claim_id="nuclei_weight_map_separated")}（用：{zh_figure(figure(SLUG, "nuclei_weight_map_separated"))}，
不用：{zh_figure(figure(SLUG, "nuclei_weight_map_separated", "no_weight_map"))}；测试图像里只有几十对相互接触的细胞核，
这个比例很粗糙）。{_helped(zh=True)}两个模型的实例并排画在下面（"真实细胞核上的权重图"）。在合成细胞上从头短时间训练时，公式 2 的权重图对实例 F1 的影响{_weight_map_effect(zh=True)}。"""

MAX_SIDE = 1024
MAX_INSTANCES_LISTED = 60
MAX_TRAIN_S = 120  # the fine-tuning budget's cap, also via the API
TRAIN = {"cpu": dict(seconds=(5, 60, 15), batch=2), "gpu": dict(seconds=(5, MAX_TRAIN_S, 30), batch=8)}


def train_settings() -> dict:
    """Fine-tuning slider (min, max, default seconds) and batch: larger on a GPU."""
    return budget(**TRAIN)


EXAMPLES = example_paths("synthetic_cells.png", "isbi2012_em_26.png", "coins.png", "cell.png")


def _heatmap(values: np.ndarray, top: float | None = None) -> np.ndarray:
    scaled = np.clip(values / (top or max(float(values.max()), 1e-6)), 0, 1)
    return cv2.cvtColor(cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_INFERNO),
                        cv2.COLOR_BGR2RGB)


def _instance_colours(count: int = MAX_INSTANCES_LISTED) -> dict[str, str]:
    """Neighbouring cell numbers get far-apart hues (golden-ratio steps), so touching cells differ
    (the same colour for a cell's English and Chinese label)."""
    colours = {}
    for n in range(1, count + 1):
        r, g, b = colorsys.hsv_to_rgb((n * 0.618034) % 1.0, 0.85, 0.95)
        colours[f"cell {n}"] = colours[f"细胞 {n}"] = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
    return colours


def _annotations(rgb: np.ndarray, instances: np.ndarray, request=None):
    """AnnotatedImage value: one coloured mask per separated cell."""
    ids = [i for i in np.unique(instances) if i > 0]
    cell = say(request, "cell", "细胞")
    masks = [((instances == i).astype(np.float32), f"{cell} {n}") for n, i in enumerate(ids[:MAX_INSTANCES_LISTED], 1)]
    if len(ids) > MAX_INSTANCES_LISTED:
        masks.append((np.isin(instances, ids[MAX_INSTANCES_LISTED:]).astype(np.float32),
                      say(request, "more cells", "其余细胞")))
    return rgb, masks


def _grey(image, invert: bool) -> tuple[np.ndarray, np.ndarray]:
    """(RGB to draw on, grey in [0, 1]). The input is the uploaded file itself, so a 16-bit TIFF/PNG
    keeps its samples and is scaled by its own range (gr.Image(type="numpy") would squash it)."""
    clean = read_grey(image, max_side=MAX_SIDE)
    return clean.rgb, (1.0 - clean.grey if invert else clean.grey)


MODELS = ("nuclei", "em", "synthetic")  # the radio's values (api: "nuclei", "em" or "synthetic")


def _model_choices() -> list[tuple]:
    return [(t("Nuclei (trained on real U2OS nuclei)"), "nuclei"),
            (t("EM membranes (trained on ISBI 2012 slices)"), "em"), (t("Synthetic cells (quick demo)"), "synthetic")]


def _em_score_line(method: str, request=None) -> str:
    """The stored held-out EM scores of one method (results/unet.json)."""
    pixel, rand = figure(SLUG, "em_pixel_error", method, unit=""), figure(SLUG, "em_rand_error", method, unit="")
    return say(request, f"pixel error {pixel}, Rand error {rand} on the held-out ISBI test slices",
               f"在留出的 ISBI 测试切片上像素误差 {pixel}，Rand 误差 {rand}")


def _em_summary(count: int, baseline_count: int, seconds: float, shape, tiles: int, request=None) -> str:
    device = unet.get_device().type.upper()
    return (say(request,
                f"**U-Net (ISBI EM): {count} segments** between the membranes · {shape[1]}×{shape[0]} px at full "
                f"resolution, {tiles} tile(s) · {seconds * 1000:.0f} ms on {device}  \n"
                f"**Smoothed intensity threshold: {baseline_count} segments** on the same image",
                f"**U-Net（ISBI 电镜）：膜之间 {count} 个区域** · {shape[1]}×{shape[0]} 像素（原分辨率），{tiles} 块 · "
                f"在 {device} 上用时 {seconds * 1000:.0f} ms  \n"
                f"**平滑后的强度阈值：{baseline_count} 个区域**（同一张图像）")
            + "  \n" + say(request, "Held-out scores — U-Net: ", "留出集得分——U-Net：") + _em_score_line("ours", request)
            + say(request, "; threshold: ", "；阈值法：") + _em_score_line("threshold", request))


def _score_line(method: str, request=None, model: str = "nuclei") -> str:
    """The stored held-out scores of one method (results/unet.json), for beside its overlay."""
    claims = ("nuclei_ensemble_f1", "nuclei_ensemble_seg") if model == "nuclei" else ("synthetic_f1", "synthetic_seg")
    f1, seg = (figure(SLUG, c, method) for c in claims)
    where = say(request, "held-out U2OS test images" if model == "nuclei" else "held-out synthetic images",
                "留出的 U2OS 测试图像" if model == "nuclei" else "留出的合成图像")
    return say(request, f"F1 {f1}, SEG {seg} on {where}", f"在{where}上 F1 {f1}，SEG {seg}")


def _summary(count: int, baseline_count: int, seconds: float, shape, tiles: int, factor: float,
             model: str, request=None) -> str:
    device = unet.get_device().type.upper()
    ours = say(request, "U-Net (U2OS nuclei, two models averaged)" if model == "nuclei" else "U-Net (synthetic cells)",
               "U-Net（U2OS 细胞核，两个模型平均）" if model == "nuclei" else "U-Net（合成细胞）")
    reduced = say(request, f", reduced {factor:.2f}× to the training nucleus size" if model == "nuclei" else "",
                  f"，缩小 {factor:.2f} 倍到训练时的细胞核大小" if model == "nuclei" else "")
    return (say(request,
                f"**{ours}: {count} objects** · {shape[1]}×{shape[0]} px{reduced}, {tiles} tile(s) · "
                f"{seconds * 1000:.0f} ms on {device}  \n"
                f"**Otsu + watershed: {baseline_count} objects** on the same image",
                f"**{ours}：{count} 个目标** · {shape[1]}×{shape[0]} 像素{reduced}，{tiles} 块 · "
                f"在 {device} 上用时 {seconds * 1000:.0f} ms  \n"
                f"**Otsu + 分水岭：{baseline_count} 个目标**（同一张图像）")
            + "  \n" + say(request, "Held-out scores — U-Net: ", "留出集得分——U-Net：")
            + _score_line("ours", request, model) + say(request, "; Otsu + watershed: ", "；Otsu + 分水岭：")
            + _score_line("otsu_watershed", request, model))


@gpu(duration=60)
@friendly_errors
def segment(image, threshold: float, invert: bool, model: str = "nuclei", progress=gr.Progress(),
            request: gr.Request = None):
    """The chosen U-Net's instances beside the classical baseline's (Otsu + watershed; for EM a
    smoothed intensity threshold), P(cell) (for EM: P(membrane)), and a summary."""
    rgb, grey = _grey(image, invert)
    start = time.perf_counter()
    if model == "em":
        found = unet.segment_em(grey)
        _, corners = unet.tile_grid(*grey.shape, unet.output_size(unet.input_size_for(212)), unet.SHIPPED_CONFIG.depth)
        seconds = time.perf_counter() - start
        return (_annotations(rgb, found.segments, request), _annotations(rgb, found.baseline, request),
                _heatmap(found.membrane, 1.0),
                _em_summary(int(found.segments.max()), int(found.baseline.max()), seconds, grey.shape, len(corners),
                            request))
    if model == "synthetic":
        net = unet.pretrained()
        _, corners = unet.tile_grid(*grey.shape, unet.TRAIN_TILE, net.config.depth)
        result = unet.segment(net, grey, float(np.clip(threshold, 0.01, 0.99)),
                              progress=lambda done, total: progress(done / total, desc=say(request, "tile", "切块") + f" {done}/{total}"))
        probability, instances, baseline, factor = result.probability, result.instances, unet.otsu_watershed(grey), 1.0
    else:
        found = unet.segment_nuclei_full(grey, ensemble=True)
        probability, instances, baseline, factor = found.probability, found.instances, found.baseline, found.factor
        small = [max(1, round(side / factor)) for side in grey.shape]
        tile = unet.output_size(unet.input_size_for(min(max(small), unet.NUCLEI_TILE_OUTPUT)))
        _, corners = unet.tile_grid(*small, tile, unet.SHIPPED_CONFIG.depth)
    seconds = time.perf_counter() - start
    count, baseline_count = len(np.unique(instances)) - 1, len(np.unique(baseline)) - 1
    return (_annotations(rgb, instances, request), _annotations(rgb, baseline, request),
            _heatmap(probability, 1.0),
            _summary(count, baseline_count, seconds, grey.shape, len(corners), factor, model, request))


def _pair_score_line(method: str, request=None) -> str:
    """Stored held-out scores of one of the two shipped nuclei models and of its seeded trainings."""
    f1, seg = figure(SLUG, "nuclei_f1", method), figure(SLUG, "nuclei_seg", method)
    seeded = figure(SLUG, "nuclei_weight_map_f1", method)
    apart = figure(SLUG, "nuclei_weight_map_separated", method)
    steps = unet.NUCLEI_COMPARE_STEPS
    return say(request, f"held-out U2OS test images: F1 {f1}, SEG {seg}; {steps}-step trainings: F1 {seeded}, "
                        f"touching pairs separated {apart}",
               f"留出的 U2OS 测试图像：F1 {zh_figure(f1)}，SEG {zh_figure(seg)}；{steps} 步的训练：F1 {zh_figure(seeded)}，"
               f"被分开的接触对 {zh_figure(apart)}")


@gpu(duration=60)
@friendly_errors
def compare_weight_map(image, invert: bool, request: gr.Request = None):
    """The two shipped nuclei models, trained with and without the Eq. 2 weight map (same seed,
    data and steps; each with its own validation-chosen settings), on the same image side by side."""
    rgb, grey = _grey(image, invert)
    start = time.perf_counter()
    with_map = unet.segment_nuclei_full(grey, with_baseline=False)
    without = unet.segment_nuclei_full(grey, factor=with_map.factor, with_baseline=False, weight_map=False)
    seconds = time.perf_counter() - start
    counts = [len(np.unique(found.instances)) - 1 for found in (with_map, without)]
    note = say(request,
               f"**With the weight map: {counts[0]} nuclei** — {_pair_score_line('ours', request)}  \n"
               f"**Without: {counts[1]} nuclei** — {_pair_score_line('no_weight_map', request)}  \n"
               f"Both on the image reduced {with_map.factor:.2f}×, {seconds * 1000:.0f} ms.",
               f"**用权重图：{counts[0]} 个细胞核**——{_pair_score_line('ours', request)}  \n"
               f"**不用：{counts[1]} 个细胞核**——{_pair_score_line('no_weight_map', request)}  \n"
               f"两者都在缩小 {with_map.factor:.2f} 倍的图像上，用时 {seconds * 1000:.0f} ms。")
    return _annotations(rgb, with_map.instances, request), _annotations(rgb, without.instances, request), note


@friendly_errors
def show_weight_map(seed: float, w0: float, sigma: float, request: gr.Request = None):
    rng = np.random.default_rng(int(seed) % 2**32 if np.isfinite(seed) else 0)
    image, instances = unet.synthetic_cells(256, rng)
    weights = unet.weight_map(instances, w0=float(np.clip(w0, 0, 100)), sigma=float(np.clip(sigma, 0.5, 50)))
    target = unet.separation_target(instances)
    rgb = (np.repeat(image[..., None], 3, axis=2) * 255).astype(np.uint8)
    low, high, mean = weights.min(), weights.max(), weights.mean()
    return (rgb, _heatmap(target.astype(np.float32), 1.0), _heatmap(weights),
            say(request, f"{instances.max()} cells · weights from {low:.2f} to {high:.2f} "
                         f"(mean {mean:.2f}): the bright lines are the gaps between touching cells.",
                f"{instances.max()} 个细胞 · 权重从 {low:.2f} 到 {high:.2f}（均值 {mean:.2f}）："
                "亮线就是相互接触的细胞之间的缝隙。"))


@friendly_errors
def show_elastic(seed: float, sigma: float):
    rng = np.random.default_rng(int(seed) % 2**32 if np.isfinite(seed) else 0)
    image, _ = unet.synthetic_cells(256, np.random.default_rng(7))
    rgb = (np.repeat(image[..., None], 3, axis=2) * 255).astype(np.uint8)
    rgb[::32, :] = (80, 200, 255)  # a grid makes the smooth warp visible
    rgb[:, ::32] = (80, 200, 255)
    field = unet.elastic_displacement(256, 256, sigma=float(np.clip(sigma, 0, 40)), rng=rng)
    return rgb, unet.elastic_deform(rgb, field)


SCORE_EVERY_S = 3.0  # seconds of training between two held-out F1 measurements


def _fine_tuning(use_weight_map: bool, batch: int):
    """(a copy of the model, its batch sampler or None, a held-out scorer model -> F1, instances of
    a grey image, what it trains on). Real U2OS training tiles with the nuclei model when the data
    folder (../shared/data) is here, else fresh synthetic tiles with the synthetic model; the F1 is
    on one image neither trains on (a U2OS validation image, or a held-out synthetic image)."""
    if (unet.U2OS_DIR / "image").is_dir():
        shipped, post = unet.nuclei_pretrained()
        pairs = [unet.u2os_image(name) for name in unet.u2os_split()["train"]]
        held_grey, held_labels = unet.u2os_image(unet.u2os_split()["validation"][0])

        def instances(model, grey):
            return unet.split_instances(unet.nuclei_probability(model, grey), post["threshold"],
                                        int(post["min_area"]), int(post["min_distance"]))

        sample = lambda rng: unet.nuclei_batch(pairs, rng, batch, shipped.config.depth, use_weight_map)  # noqa: E731
        return copy.deepcopy(shipped), sample, held_grey, held_labels, instances, "real"
    held_grey, held_labels = unet.held_out_images(0, 1)[0]
    return (copy.deepcopy(unet.pretrained()), None, held_grey, held_labels,
            lambda model, grey: unet.segment(model, grey).instances, "synthetic")


@gpu(budget=("seconds", MAX_TRAIN_S))
@friendly_errors
def train_a_little(image, seconds: float, use_weight_map: bool, invert: bool, request: gr.Request = None):
    """Fine-tune a copy of a shipped model on training tiles (real U2OS nuclei when the data are
    here, else synthetic cells), with or without the Eq. 2 weight map; stream the loss and the
    instance F1 on a held-out labelled image, measured every few seconds."""
    rgb, grey = _grey(image, invert)
    batch = train_settings()["batch"]
    model, sample, held_grey, held_labels, instances, kind = _fine_tuning(use_weight_map, batch)
    score = lambda: float(unet.instance_scores(instances(model, held_grey), held_labels)["f1"])  # noqa: E731
    budget = float(np.clip(seconds, 2, MAX_TRAIN_S))
    history, scores, last = [], [{"step": 0, "F1": score()}], 0.0
    what = say(request, "real U2OS nuclei tiles" if kind == "real" else "synthetic cell tiles",
               "真实 U2OS 细胞核切块" if kind == "real" else "合成细胞切块")
    for record in unet.train_steps(model, seconds=budget, seed=int(time.time()), use_weight_map=use_weight_map,
                                   batch=batch, sample=sample):
        history.append(record)
        if record["elapsed"] - last >= SCORE_EVERY_S:
            model.eval()
            scores.append({"step": record["step"], "F1": score()})
            model.train()
            last = record["elapsed"]
        yield pd.DataFrame(history), None, say(
            request, f"step {record['step']} on {what} · loss {record['loss']:.4f} · held-out F1 {scores[-1]['F1']:.2f} · "
                     f"{record['elapsed']:.1f} s of {budget:.0f} s",
            f"第 {record['step']} 步（{what}）· 损失 {record['loss']:.4f} · 留出图像 F1 {scores[-1]['F1']:.2f} · "
            f"{record['elapsed']:.1f} 秒 / {budget:.0f} 秒"), pd.DataFrame(scores)
    if history and scores[-1]["step"] != history[-1]["step"]:
        scores.append({"step": history[-1]["step"], "F1": score()})
    found = instances(model, grey)
    count, before, after = len(np.unique(found)) - 1, scores[0]["F1"], scores[-1]["F1"]
    yield (pd.DataFrame(history), _annotations(rgb, found, request), say(
        request, f"Done: {len(history)} steps on {what}. Instance F1 on the held-out image: {before:.2f} → {after:.2f}. "
                 f"The fine-tuned copy finds **{count} cells** on your image (the shipped model is unchanged).",
        f"完成：在{what}上共 {len(history)} 步。留出图像上的实例 F1：{before:.2f} → {after:.2f}。"
        f"微调后的副本在你的图像上找到 **{count} 个细胞**（发布的模型保持不变）。"), pd.DataFrame(scores))


def build() -> None:
    header(TITLE, PAPER_URL, localized(INTRO, cjk_markdown(INTRO_ZH)))
    with gr.Row():
        with gr.Column():
            image = gr.Image(label=t("Microscopy image (8- or 16-bit PNG/TIFF)"), type="filepath", image_mode=None,
                             value=EXAMPLES[0])
            model = gr.Radio(_model_choices(), value="nuclei", label=t("Model"))
            threshold = gr.Slider(0.05, 0.95, value=0.5, step=0.05, label=t("Cell probability threshold"),
                                  info=t("Synthetic-cell model only: the nuclei and EM models use the settings "
                                         "chosen on their validation images"))
            invert = gr.Checkbox(False, label=t("Dark cells on a bright background (invert)"))
            run = gr.Button(t("Segment"), variant="primary")
            gr.Examples(EXAMPLES, inputs=image, label=t("Examples"))
        with gr.Column():
            summary = gr.Markdown()
            with gr.Row():
                overlay = gr.AnnotatedImage(label=t("U-Net: separated cells (EM: segments between membranes)"),
                                           color_map=_instance_colours())
                baseline = gr.AnnotatedImage(label=t("Classical baseline (Otsu + watershed; EM: smoothed threshold)"),
                                             color_map=_instance_colours())
            probability = gr.Image(label=t("P(cell) — the thin dark lines are the learnt separations (EM model: P(membrane))"),
                                   type="numpy")
    outputs = [overlay, baseline, probability, summary]
    run.click(segment, [image, threshold, invert, model], outputs, api_name="unet_segment")
    on_tab_open(segment, outputs, [image, threshold, invert, model])
    adds = "the trained cell segmenter (the weight-map and deformation views below work without it)"
    gr.Markdown(localized(weights_note(unet.CHECKPOINT, adds=adds),
                          weights_note_zh(unet.CHECKPOINT, adds="训练好的细胞分割模型（下面的权重图和形变演示不需要它）")))

    with gr.Accordion(t("The weight map on real nuclei: the U2OS model trained with vs without Eq. 2"),
                      open=False) as pair_section:
        gr.Markdown(t("Two nuclei models trained from the same seed on the same 32 U2OS images for the same steps, "
                      "one with the Eq. 2 weight map and one with uniform pixel weights, each with its threshold, "
                      "minimum size and watershed split chosen on the validation images. They run on the image "
                      "above (invert applies)."))
        compare = gr.Button(t("Compare on this image"))
        with gr.Row():
            with_map = gr.AnnotatedImage(label=t("Trained with the weight map (the shipped nuclei model)"),
                                         color_map=_instance_colours())
            without_map = gr.AnnotatedImage(label=t("Trained without the weight map"), color_map=_instance_colours())
        pair_note = gr.Markdown()
        compare.click(compare_weight_map, [image, invert], [with_map, without_map, pair_note],
                      api_name="unet_weight_map_pair")
        pair_section.expand(compare_weight_map, [image, invert], [with_map, without_map, pair_note],
                            api_visibility="private", show_progress="hidden")

    with gr.Accordion(t("The weight map (Eq. 2): why touching cells come apart"), open=False) as wmap_section:
        with gr.Row():
            seed = gr.Number(0, label=t("Sample number"), precision=0)
            w0 = gr.Slider(0, 30, value=unet.W0, step=1, label="w₀")
            sigma = gr.Slider(1, 20, value=unet.SIGMA, step=0.5, label=t("σ (px)"))
            show = gr.Button(t("Show"))
        with gr.Row():
            sample = gr.Image(label=t("Synthetic sample"), type="numpy")
            target = gr.Image(label=t("Target: borders between cells are background"), type="numpy")
            wmap = gr.Image(label="w(x)", type="numpy")
        wmap_note = gr.Markdown()
        show.click(show_weight_map, [seed, w0, sigma], [sample, target, wmap, wmap_note], api_name="unet_weight_map")
        wmap_section.expand(show_weight_map, [seed, w0, sigma], [sample, target, wmap, wmap_note],
                            api_visibility="private", show_progress="hidden")

    with gr.Accordion(t("Elastic deformation (§3.1): 3×3 random displacements, bicubic"), open=False) as deform_section:
        with gr.Row():
            deform_seed = gr.Number(0, label=t("Seed"), precision=0)
            deform_sigma = gr.Slider(0, 30, value=10, step=1, label=t("σ (px) of the coarse displacements"))
            deform = gr.Button(t("Deform"))
        with gr.Row():
            before = gr.Image(label=t("Before"), type="numpy")
            after = gr.Image(label=t("After"), type="numpy")
        deform.click(show_elastic, [deform_seed, deform_sigma], [before, after], api_name="unet_elastic")
        deform_sigma.release(show_elastic, [deform_seed, deform_sigma], [before, after], api_visibility="private")
        deform_section.expand(show_elastic, [deform_seed, deform_sigma], [before, after],
                              api_visibility="private", show_progress="hidden")

    with gr.Accordion(t("Train a little: fine-tune a copy on real nuclei tiles (synthetic cells without the data)"),
                      open=False):
        with gr.Row():
            low, high, default = train_settings()["seconds"]
            gpu_batch, cpu_batch = TRAIN["gpu"]["batch"], TRAIN["cpu"]["batch"]
            budget_s = gr.Slider(low, high, value=default, step=5, label=t("Seconds"), info=localized(
                device_note(f"batches of {gpu_batch} tiles (not {cpu_batch}) for up to {MAX_TRAIN_S} s"),
                device_note_zh(f"每批 {gpu_batch} 块（而不是 {cpu_batch} 块）、最长训练 {MAX_TRAIN_S} 秒")))
            use_wmap = gr.Checkbox(True, label=t("Use the weight map"))
            train = gr.Button(t("Train"), variant="primary")
            stop = gr.Button(t("Stop"))
        curve = gr.LinePlot(x="step", y="loss", label=t("Weighted cross-entropy (Eq. 1)"), height=240)
        f1_curve = gr.LinePlot(x="step", y="F1", label=t("Instance F1 at IoU 0.5 on a held-out labelled image"),
                               height=240)
        trained = gr.AnnotatedImage(label=t("Fine-tuned copy on your image"), color_map=_instance_colours())
        train_note = gr.Markdown()
        event = train.click(train_a_little, [image, budget_s, use_wmap, invert], [curve, trained, train_note, f1_curve],
                            api_name="unet_train", concurrency_id=heavy_id(SLUG), concurrency_limit=1)
        stop.click(None, None, None, cancels=[event], api_visibility="private")


def bench_default():
    return segment(EXAMPLES[0], 0.5, False, "nuclei", progress=lambda *a, **k: None)


ZH = {
    "Microscopy image (8- or 16-bit PNG/TIFF)": "显微图像（8 位或 16 位 PNG/TIFF）",
    "Cell probability threshold": "细胞概率阈值",
    "Model": "模型",
    "Nuclei (trained on real U2OS nuclei)": "细胞核（在真实 U2OS 细胞核上训练）",
    "Synthetic cells (quick demo)": "合成细胞（快速演示）",
    "Synthetic-cell model only: the nuclei and EM models use the settings chosen on their validation images":
        "仅用于合成细胞模型：细胞核模型和电镜模型使用在各自验证图像上选出的设置",
    "EM membranes (trained on ISBI 2012 slices)": "电镜细胞膜（在 ISBI 2012 切片上训练）",
    "U-Net: separated cells (EM: segments between membranes)": "U-Net：分开的细胞（电镜：膜之间的区域）",
    "Classical baseline (Otsu + watershed; EM: smoothed threshold)": "经典基线（Otsu + 分水岭；电镜：平滑后阈值）",
    "P(cell) — the thin dark lines are the learnt separations (EM model: P(membrane))":
        "P(细胞)——细细的暗线就是学到的分隔（电镜模型：P(细胞膜)）",
    "Dark cells on a bright background (invert)": "亮背景上的暗细胞（反相）",
    "Segment": "分割",
    "Examples": "示例",
    "The weight map (Eq. 2): why touching cells come apart": "权重图（公式 2）：相互接触的细胞为什么能分开",
    "Sample number": "样本编号",
    "σ (px)": "σ（像素）",
    "Show": "显示",
    "Synthetic sample": "合成样本",
    "Target: borders between cells are background": "目标：细胞之间的边界算作背景",
    "Elastic deformation (§3.1): 3×3 random displacements, bicubic": "弹性形变（§3.1）：3×3 网格随机位移，双三次插值",
    "Seed": "随机种子",
    "σ (px) of the coarse displacements": "粗网格位移的 σ（像素）",
    "Deform": "形变",
    "Before": "形变前",
    "After": "形变后",
    "Train a little: fine-tune a copy on real nuclei tiles (synthetic cells without the data)":
        "小练一下：在真实细胞核切块上微调一个副本（没有该数据时用合成细胞）",
    "Instance F1 at IoU 0.5 on a held-out labelled image": "留出的有标注图像上的实例 F1（IoU 0.5）",
    "Seconds": "秒数",
    "The weight map on real nuclei: the U2OS model trained with vs without Eq. 2":
        "真实细胞核上的权重图：用与不用公式 2 训练的 U2OS 模型",
    "Two nuclei models trained from the same seed on the same 32 U2OS images for the same steps, one with the Eq. 2 "
    "weight map and one with uniform pixel weights, each with its threshold, minimum size and watershed split chosen "
    "on the validation images. They run on the image above (invert applies).":
        "两个细胞核模型以相同的随机种子、在相同的 32 张 U2OS 图像上训练相同的步数，一个用公式 2 的权重图，一个用均匀的像素权重；"
        "各自的阈值、最小面积和分水岭切分都在验证图像上选定。它们在上方的图像上运行（反相设置同样适用）。",
    "Compare on this image": "在这张图像上比较",
    "Trained with the weight map (the shipped nuclei model)": "用权重图训练（发布的细胞核模型）",
    "Trained without the weight map": "不用权重图训练",
    "Use the weight map": "使用权重图",
    "Train": "训练",
    "Stop": "停止",
    "Weighted cross-entropy (Eq. 1)": "加权交叉熵（公式 1）",
    "Fine-tuned copy on your image": "微调后的副本在你的图像上的结果",
}
