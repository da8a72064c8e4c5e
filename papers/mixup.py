"""mixup: Beyond Empirical Risk Minimization.

Hongyi Zhang, Moustapha Cisse, Yann N. Dauphin and David Lopez-Paz, ICLR 2018.
https://arxiv.org/abs/1710.09412

Instead of training on the examples themselves (empirical risk minimisation, ERM), train on
convex combinations of pairs of examples and of their one-hot labels (§2, Eq. 1):
x̃ = λ·x_i + (1 − λ)·x_j,  ỹ = λ·y_i + (1 − λ)·y_j,  λ ~ Beta(α, α), where the pairs come from
one minibatch and a shuffled copy of it. This favours models that behave linearly between
examples: smoother decision boundaries (Fig. 1b), better-calibrated confidences, and less
memorisation of corrupted labels (§3.4).

Deviations from the paper:
- Scale: 2-D toy sets (moons, circles, spirals) with a small MLP, and scikit-learn's 1,797 8x8
  digits (at 28x28) with an MLP, trained for seconds with Adam; the paper trains ResNets on
  CIFAR/ImageNet with SGD for hundreds of epochs. Differences between ERM and mixup at this
  scale are small and vary with the seed, so the digits comparison reports several seeds.
- Fig. 1(b) uses α = 1 on a toy problem whose exact data are not given; ours are generated.
- Calibration is measured with the expected calibration error (15 equal-width confidence
  bins, Guo et al. 2017), which the mixup paper does not report (Thulasidasan et al. 2019 do).
- Label corruption (§3.4) flips a fraction of the *training* labels to the other class (toy
  sets only); the paper replaces CIFAR labels with random ones. We report the share of flipped
  labels the model reproduces and the test error; the paper reports test error.
- Fig. 2 on a 2-class toy: the paper counts a miss in-between training points when the prediction
  is neither y_i nor y_j (10 classes), which two classes never allow, so a miss here is a prediction
  other than the label with the larger weight in ỹ; the gradient is that of the cross-entropy
  against ỹ w.r.t. x̃, at 20 fixed values of λ, for an MLP on 2-D points (the paper: CIFAR-10,
  PreAct ResNet-18).
- The α sweep is on the label-noise toy; the paper's α advice comes from ImageNet (§3.1:
  α ∈ [0.1, 0.4] helps, larger α underfits) and from CIFAR-10 with corrupted labels (§3.4: large α).

Measured here (results/mixup.json, `python -m papers.reproduce mixup`): with flipped labels and
long training, mixup (α = 1) fits fewer of them than ERM and has lower test error
(memorised_flipped_labels_moons / _circles, noisy_test_error_moons / _circles), as §3.4 claims; at
the tab's 500 steps ERM has not yet fitted many, so the difference is small
(memorised_flipped_labels_moons_tab). Without label noise ERM is more accurate at this scale
(clean_test_error_moons, digits_test_error), and mixup's soft targets make the small network
*under*-confident, so its ECE is higher (digits_ece), unlike the paper's large-network results.
In-between training points (Fig. 2) mixup's input gradients are several times smaller and it
misses the mixed label less often (between_grad_norm_moons, between_miss_moons); the α sweep on
the label-noise toy is alpha_sweep_test_error_moons / alpha_sweep_memorised_moons.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from papers.checkpoints import get_device, seeded_init
from papers.data import DIGIT_CLASSES, DIGIT_SIZE, digits, split_size

TOY_SETS = ("moons", "circles", "spirals")
TOY_CLASSES = 2
ECE_BINS = 15
SEED_RANGE = 2 ** 62


# --------------------------------------------------------------------------- the method (§2)
def sample_lambda(alpha: float, generator: torch.Generator | None = None) -> float:
    """λ ~ Beta(α, α); α <= 0 means no mixing (λ = 1, plain ERM)."""
    if alpha <= 0:
        return 1.0
    seed = int(torch.randint(SEED_RANGE, (1,), generator=generator))  # reproducible with `generator`
    return float(np.random.default_rng(seed).beta(alpha, alpha))


def mixup(x: torch.Tensor, y_onehot: torch.Tensor, alpha: float,
          generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Eq. 1 on a minibatch: mix every example with the one a random permutation pairs it
    with (the same permutation for x and y). Returns (x̃, ỹ, λ)."""
    lam = sample_lambda(alpha, generator)
    perm = torch.randperm(len(x), generator=generator, device="cpu").to(x.device)
    x_mixed = lam * x + (1 - lam) * x[perm]
    y_mixed = lam * y_onehot + (1 - lam) * y_onehot[perm]
    return x_mixed, y_mixed, lam


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against mixed (soft) labels: −Σ ỹ·log softmax(f(x̃))."""
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


# --------------------------------------------------------------------------- metrics
def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE = Σ_b (|B_b| / N)·|accuracy(B_b) − confidence(B_b)| over equal-width confidence bins."""
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    ece = torch.zeros(())
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.float().mean() * (correct[in_bin].mean() - confidence[in_bin].mean()).abs()
    return float(ece)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probs.argmax(dim=1) == labels).float().mean())


# --------------------------------------------------------------------------- toy data (Fig. 1b)
@dataclass
class ToyData:
    x_train: torch.Tensor  # (N, 2)
    y_train: torch.Tensor  # (N,) possibly corrupted
    y_train_clean: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def corrupted(self) -> torch.Tensor:
        return self.y_train != self.y_train_clean


def _spirals(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved spirals, one per class."""
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi  # angle; sqrt spreads points evenly along the arm
    label = rng.integers(0, 2, n)
    sign = np.where(label == 0, 1.0, -1.0)
    xy = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) / (3 * np.pi)
    return xy + rng.normal(0, noise, xy.shape), label


def _toy_points(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles, make_moons

    if name == "moons":
        return make_moons(n, noise=noise, random_state=seed)
    if name == "circles":
        return make_circles(n, noise=noise * 0.5, factor=0.5, random_state=seed)
    if name == "spirals":
        return _spirals(n, noise * 0.5, np.random.default_rng(seed))
    raise ValueError(f"Unknown toy set '{name}'; choose one of {', '.join(TOY_SETS)}.")


def toy_data(name: str = "moons", n_train: int = 300, n_test: int = 1000, noise: float = 0.2,
             label_noise: float = 0.0, seed: int = 0) -> ToyData:
    """A 2-D toy set; a fraction `label_noise` of the training labels is flipped (§3.4)."""
    if not 0 <= label_noise < 0.5:
        raise ValueError("The label-noise fraction must be in [0, 0.5).")
    x, y = _toy_points(name, n_train + n_test, noise, seed)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.long)
    x = (x - x.mean(0)) / x.std(0)  # standardised, so one network size suits every set
    y_train = y[:n_train].clone()
    flip = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed))[:round(label_noise * n_train)]
    y_train[flip] = 1 - y_train[flip]
    return ToyData(x[:n_train], y_train, y[:n_train], x[n_train:], y[n_train:])


# --------------------------------------------------------------------------- models
def mlp(in_features: int, classes: int, hidden: int, depth: int = 2) -> nn.Sequential:
    layers, width = [], in_features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, classes))


TOY_HIDDEN = 64
TOY_STEPS = 500
DIGIT_HIDDEN = 256


# --------------------------------------------------------------------------- training
def training_steps(model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes: int, alpha: float,
                   steps: int, batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 1e-4,
                   seed: int = 0) -> Iterator[int]:
    """Minibatch training with mixup(α) (α = 0: ERM), yielding the step number after each step
    (so a caller can interleave, show progress or stop). The minibatch order depends only on
    `seed`, so ERM and mixup see the same batches."""
    batches = torch.Generator().manual_seed(seed)
    mixing = torch.Generator().manual_seed(seed + 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    y_onehot = F.one_hot(y, classes).float()
    model.train()
    for step in range(1, steps + 1):
        idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=batches)
        x_mixed, y_mixed, _ = mixup(x[idx], y_onehot[idx], alpha, mixing)
        loss = soft_cross_entropy(model(x_mixed), y_mixed)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        yield step
    model.eval()


def train_classifier(model: nn.Module, *args, **kwargs) -> nn.Module:
    """`training_steps` run to the end; returns the model in eval mode."""
    for _ in training_steps(model, *args, **kwargs):
        pass
    return model.eval()


@torch.inference_mode()
def probabilities(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return F.softmax(model(x), dim=1)


@dataclass
class ToyResult:
    name: str
    model: nn.Module
    train_acc: float  # against the (possibly corrupted) labels it was trained on
    clean_train_acc: float
    corrupted_fit: float  # share of corrupted labels the model reproduces (memorisation, §3.4)
    test_acc: float
    test_ece: float


def toy_model(seed: int = 0) -> nn.Module:
    """The toy MLP; the same `seed` gives ERM and mixup the same initialisation."""
    with seeded_init(seed):  # same weights as seeding torch, without touching its global RNG
        return mlp(2, TOY_CLASSES, TOY_HIDDEN)


def toy_steps(model: nn.Module, data: ToyData, alpha: float, steps: int = TOY_STEPS, seed: int = 0):
    return training_steps(model, data.x_train, data.y_train, TOY_CLASSES, alpha, steps, seed=seed)


def toy_result(name: str, model: nn.Module, data: ToyData) -> ToyResult:
    model.eval()
    train_probs, test_probs = probabilities(model, data.x_train), probabilities(model, data.x_test)
    corrupted = data.corrupted
    memorised = (train_probs.argmax(1)[corrupted] == data.y_train[corrupted]).float().mean()
    return ToyResult(name, model, accuracy(train_probs, data.y_train), accuracy(train_probs, data.y_train_clean),
                     float(memorised) if corrupted.any() else float("nan"),
                     accuracy(test_probs, data.y_test), expected_calibration_error(test_probs, data.y_test))


def method_name(alpha: float) -> str:
    return "ERM" if alpha <= 0 else f"mixup α={alpha:g}"


def train_toy(data: ToyData, alpha: float, steps: int = TOY_STEPS, seed: int = 0) -> ToyResult:
    """One toy MLP trained to the end with mixup(α) (α = 0: ERM)."""
    model = toy_model(seed)
    for _ in toy_steps(model, data, alpha, steps, seed):
        pass
    return toy_result(method_name(alpha), model, data)


# --------------------------------------------------------------------------- memorisation over training (§3.4)
@dataclass
class CurvePoint:
    step: int
    method: str
    flipped_fit: float  # share of the flipped training labels the model predicts (memorised)
    clean_error: float  # error on the training points whose labels were not flipped


@torch.inference_mode()
def memorisation(model: nn.Module, data: ToyData) -> tuple[float, float]:
    """(share of flipped training labels reproduced, error on the unflipped training labels)."""
    was_training = model.training
    model.eval()
    predicted = model(data.x_train).argmax(1)
    model.train(was_training)
    flipped = data.corrupted
    fit = float((predicted[flipped] == data.y_train[flipped]).float().mean()) if flipped.any() else float("nan")
    clean_error = float((predicted[~flipped] != data.y_train[~flipped]).float().mean())
    return fit, clean_error


def memorisation_curve(data: ToyData, alphas: tuple[float, ...] = (0.0, 1.0), steps: int = 3000,
                       every: int = 100, seed: int = 0) -> Iterator[list[CurvePoint]]:
    """§3.4 as it happens: the same initial network trained with each α (0 = ERM) on the same
    batches, step for step; every `every` steps the share of flipped training labels each model
    reproduces and its error on the unflipped ones. Yields the curve so far after each
    measurement (a caller can stream it and stop early); every training generator runs to its end."""
    models = [toy_model(seed) for _ in alphas]
    runs = [toy_steps(model, data, a, steps, seed) for model, a in zip(models, alphas)]
    curve: list[CurvePoint] = []
    for step, *_ in zip(*runs, strict=True):  # strict: all generators run to their end (model.eval())
        if step % every == 0 or step == steps:
            for model, a in zip(models, alphas):
                curve.append(CurvePoint(step, method_name(a), *memorisation(model, data)))
            yield curve


# --------------------------------------------------------------------------- in-between training points (Fig. 2)
BETWEEN_PAIRS = 500
BETWEEN_LAMBDAS = 20  # λ at the midpoints of 20 equal steps: 0.025 … 0.975 (never the 0.5 tie)


@dataclass
class Between:
    lambdas: np.ndarray  # (L,)
    miss: np.ndarray  # (L,) share of mixed points whose prediction is not ỹ's larger label
    grad_norm: np.ndarray  # (L,) mean ‖∇_x̃ ℓ(f(x̃), ỹ)‖ over the pairs


def between_points(model: nn.Module, x: torch.Tensor, y: torch.Tensor, classes: int = TOY_CLASSES,
                   pairs: int = BETWEEN_PAIRS, lambdas: int = BETWEEN_LAMBDAS, seed: int = 0) -> Between:
    """Fig. 2 on a toy: at x̃ = λ·x_i + (1 − λ)·x_j for random pairs of training points,
    (a) a miss is a prediction other than the label with the larger weight in
    ỹ = λ·y_i + (1 − λ)·y_j (the paper counts a miss when the prediction is in neither {y_i, y_j},
    which two classes can never do), and (b) the norm of the gradient of the loss
    (cross-entropy against ỹ) with respect to x̃."""
    generator = torch.Generator().manual_seed(seed)
    i = torch.randint(len(x), (pairs,), generator=generator)
    j = torch.randint(len(x), (pairs,), generator=generator)
    y_onehot = F.one_hot(y, classes).float()
    lam_values = (torch.arange(lambdas, dtype=torch.float32) + 0.5) / lambdas  # (L,)
    lam = lam_values[:, None, None]  # (L, 1, 1)
    x_mixed = (lam * x[i] + (1 - lam) * x[j]).reshape(-1, x.shape[1]).requires_grad_(True)  # (L*P, D)
    y_mixed = (lam * y_onehot[i] + (1 - lam) * y_onehot[j]).reshape(-1, classes)  # (L*P, C)
    was_training = model.training
    model.eval()
    logits = model(x_mixed)
    model.train(was_training)
    loss = -(y_mixed * F.log_softmax(logits, dim=1)).sum()  # a sum: each x̃'s gradient is its own loss's
    (grad,) = torch.autograd.grad(loss, x_mixed)
    miss = (logits.argmax(1) != y_mixed.argmax(1)).float().reshape(lambdas, pairs).mean(1)  # (L,)
    grad_norm = grad.norm(dim=1).reshape(lambdas, pairs).mean(1)  # (L,)
    return Between(lam_values.numpy(), miss.detach().numpy(), grad_norm.detach().numpy())


# --------------------------------------------------------------------------- decision surface
CLASS_COLOURS = np.array([[46, 160, 67], [255, 140, 0]], dtype=np.float32)  # Fig. 1b: green, orange
SURFACE_LOW, SURFACE_HIGH = np.array([255, 255, 255], np.float32), np.array([40, 90, 200], np.float32)


def surface_bounds(data: ToyData, margin: float = 0.5) -> tuple[float, float, float, float]:
    both = torch.cat([data.x_train, data.x_test])
    (x0, y0), (x1, y1) = both.min(0).values.tolist(), both.max(0).values.tolist()
    return x0 - margin, x1 + margin, y0 - margin, y1 + margin


@torch.inference_mode()
def decision_surface(model: nn.Module, data: ToyData, resolution: int = 240) -> np.ndarray:
    """Fig. 1(b): p(y = 1 | x) as blue shading, the training points on top (green = class 0,
    orange = class 1; corrupted labels drawn as crosses). (resolution, resolution, 3) uint8."""
    x0, x1, y0, y1 = surface_bounds(data)
    xs, ys = torch.linspace(x0, x1, resolution), torch.linspace(y1, y0, resolution)  # image rows go down
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(-1, 2)  # (R*R, 2)
    p1 = probabilities(model, grid)[:, 1].reshape(resolution, resolution, 1).numpy()  # (R, R, 1)
    image = SURFACE_LOW + p1 * (SURFACE_HIGH - SURFACE_LOW)
    cols = ((data.x_train[:, 0] - x0) / (x1 - x0) * (resolution - 1)).round().long().numpy()
    rows = ((y1 - data.x_train[:, 1]) / (y1 - y0) * (resolution - 1)).round().long().numpy()
    for r, c, label, bad in zip(rows, cols, data.y_train.tolist(), data.corrupted.tolist()):
        _dot(image, r, c, CLASS_COLOURS[label], cross=bad)
    return image.clip(0, 255).astype(np.uint8)


def _dot(image: np.ndarray, row: int, col: int, colour: np.ndarray, radius: int = 2, cross: bool = False) -> None:
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            if cross and abs(dr) != abs(dc):
                continue
            r, c = row + dr, col + dc
            if 0 <= r < image.shape[0] and 0 <= c < image.shape[1]:
                image[r, c] = colour


# --------------------------------------------------------------------------- images
def mix_images(a: np.ndarray, b: np.ndarray, lam: float) -> np.ndarray:
    """x̃ = λ·a + (1 − λ)·b for two RGB uint8 images (b is resized to a's size)."""
    from PIL import Image

    if not 0 <= lam <= 1:
        raise ValueError("λ must lie in [0, 1].")
    if a.shape != b.shape:
        b = np.asarray(Image.fromarray(b).resize((a.shape[1], a.shape[0]), Image.BILINEAR))
    mixed = lam * a.astype(np.float32) + (1 - lam) * b.astype(np.float32)
    return (mixed + 0.5).clip(0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- digits comparison
@dataclass
class DigitRun:
    method: str
    seed: int
    test_acc: float
    test_ece: float
    seconds: float


@dataclass
class DigitComparison:
    runs: list[DigitRun] = field(default_factory=list)

    def summary(self) -> dict[str, tuple[float, float, float, float]]:
        """method -> (mean accuracy, std accuracy, mean ECE, std ECE) over the finished seeds."""
        out = {}
        for method in dict.fromkeys(r.method for r in self.runs):
            acc = np.array([r.test_acc for r in self.runs if r.method == method])
            ece = np.array([r.test_ece for r in self.runs if r.method == method])
            out[method] = (acc.mean(), acc.std(), ece.mean(), ece.std())
        return out


def compare_on_digits(alpha: float = 0.3, seeds: int = 3, steps: int = 600,
                      budget_s: float = 60.0) -> Iterator[DigitComparison]:
    """ERM vs mixup(α) on the digits (train split -> test split), seed by seed; yields after
    every run. Stops starting new runs once `budget_s` is spent."""
    comparison, start = DigitComparison(), time.perf_counter()
    for seed in range(seeds):
        for a in (0.0, alpha):
            if time.perf_counter() - start > budget_s:
                return
            comparison.runs.append(digit_run(a, seed, steps))
            yield comparison


def digit_run(alpha: float, seed: int, steps: int = 600) -> DigitRun:
    """One digits MLP trained with mixup(α) (α = 0: ERM), seeded before it is built; scored on
    the test split."""
    x_train, y_train = digits("train")
    x_test, y_test = digits("test")
    x_train, x_test = x_train.flatten(1), x_test.flatten(1)  # (N, 28*28)
    began = time.perf_counter()
    with seeded_init(seed):  # same weights as seeding torch, without touching its global RNG
        model = mlp(DIGIT_SIZE * DIGIT_SIZE, DIGIT_CLASSES, DIGIT_HIDDEN, depth=1)
    device = get_device()  # the digits (a few MB) and the MLP on one device; metrics on the CPU
    model = train_classifier(model.to(device), x_train.to(device), y_train.to(device), DIGIT_CLASSES, alpha, steps,
                             lr=1e-3, seed=seed)
    probs = probabilities(model, x_test.to(device)).cpu()
    return DigitRun(method_name(alpha), seed, accuracy(probs, y_test), expected_calibration_error(probs, y_test),
                    time.perf_counter() - began)


# ---- experiments behind the claims
NOISY_FRACTION = 0.3  # flipped training labels in the §3.4-style runs
TOY_ALPHA = 1.0  # Fig. 1b's α
LONG_STEPS = 3000  # long enough for ERM to fit many flipped labels (the tab's 500 steps is not)
DIGIT_ALPHA = 0.3  # the tab's default for the digits
DIGIT_STEPS = 600


SWEEP_ALPHAS = (0.0, 0.1, 0.2, 0.4, 1.0, 2.0, 8.0)  # the α sweep (0 = ERM)
BETWEEN_STEPS = 1000  # Fig. 2's runs: clean labels


@functools.lru_cache(maxsize=256)
def _toy_run(name: str, label_noise: float, steps: int, alpha: float, seed: int, quick: bool) -> ToyResult:
    """One toy MLP trained with mixup(α); data, initialisation and batches from `seed`."""
    data = toy_data(name, label_noise=label_noise, seed=seed)
    return train_toy(data, alpha, steps // 10 if quick else steps, seed)


def _toy_pair(name: str, label_noise: float, steps: int, seed: int, quick: bool) -> tuple[ToyResult, ToyResult]:
    """ERM and mixup(α = 1) on one toy set, same data, initialisation and batches (seeded)."""
    return (_toy_run(name, label_noise, steps, 0.0, seed, quick),
            _toy_run(name, label_noise, steps, TOY_ALPHA, seed, quick))


def _sweep_key(alpha: float) -> str:
    return "ours" if alpha == TOY_ALPHA else "erm" if alpha <= 0 else f"alpha_{alpha:g}"


def _sweep_measure(name: str, metric: str):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        value = {"memorised": lambda r: 100 * r.corrupted_fit, "test_error": lambda r: 100 * (1 - r.test_acc)}[metric]
        return {_sweep_key(a): value(_toy_run(name, NOISY_FRACTION, LONG_STEPS, a, seed, quick)) for a in SWEEP_ALPHAS}
    return measure


@functools.lru_cache(maxsize=64)
def _between_pair(name: str, seed: int, quick: bool) -> tuple[Between, Between]:
    """Fig. 2 for ERM and mixup(α = 1) trained on clean labels (same data, initialisation, batches, pairs)."""
    data = toy_data(name, seed=seed)
    models = [_toy_run(name, 0.0, BETWEEN_STEPS, a, seed, quick).model for a in (0.0, TOY_ALPHA)]
    erm, mixed = (between_points(m, data.x_train, data.y_train, seed=seed) for m in models)
    return erm, mixed


def _between_measure(name: str, metric: str):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        erm, mixed = _between_pair(name, seed, quick)
        value = {"miss": lambda b: 100 * float(b.miss.mean()), "grad_norm": lambda b: float(b.grad_norm.mean())}[metric]
        return {"ours": value(mixed), "erm": value(erm)}
    return measure


@functools.lru_cache(maxsize=32)
def _digit_pair(seed: int, quick: bool) -> tuple[DigitRun, DigitRun]:
    steps = DIGIT_STEPS // 5 if quick else DIGIT_STEPS
    return digit_run(0.0, seed, steps), digit_run(DIGIT_ALPHA, seed, steps)


def _toy_measure(name: str, label_noise: float, steps: int, metric: str):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        erm, mixed = _toy_pair(name, label_noise, steps, seed, quick)
        value = {"memorised": lambda r: 100 * r.corrupted_fit, "test_error": lambda r: 100 * (1 - r.test_acc)}[metric]
        return {"ours": value(mixed), "erm": value(erm)}
    return measure


def _digit_measure(metric: str):
    def measure(seed: int, quick: bool) -> dict[str, float]:
        erm, mixed = _digit_pair(seed, quick)
        value = {"test_error": lambda r: 100 * (1 - r.test_acc), "ece": lambda r: r.test_ece}[metric]
        return {"ours": value(mixed), "erm": value(erm)}
    return measure


def _experiments():
    from papers.results import Experiment, Paper

    labels = {"ours": f"mixup α={TOY_ALPHA:g}", "erm": "ERM"}
    digit_labels = {"ours": f"mixup α={DIGIT_ALPHA:g}", "erm": "ERM"}

    def toy_budget(steps):
        return f"MLP 2-{TOY_HIDDEN}-{TOY_HIDDEN}-2, {steps} Adam steps of 64, 300 training points"

    digit_budget = f"MLP 784-{DIGIT_HIDDEN}-10, {DIGIT_STEPS} Adam steps"
    noisy = f"{NOISY_FRACTION:.0%} of the training labels flipped"
    memorised = "% of the flipped training labels the trained model predicts (memorisation, lower is better)"
    table2 = Paper(None, "§3.4, Table 2", "CIFAR-10 with 20/50/80 % random labels, PreAct ResNet-18: mixup's "
                                         "test error is far below ERM's at the last epoch; the paper reports "
                                         "test error, not the share of corrupted labels fitted")
    table1 = Paper(4.2, "Table 1, CIFAR-10, PreAct ResNet-18", "ERM 5.6 %; mixup α = 1")
    experiments = []
    for name in ("moons", "circles"):
        experiments += [
            Experiment(
                f"memorised_flipped_labels_{name}",
                f"{name}, {noisy}, trained long: mixup reproduces fewer flipped labels than ERM (§3.4; "
                f"{toy_budget(LONG_STEPS)})",
                memorised, _toy_measure(name, NOISY_FRACTION, LONG_STEPS, "memorised"), seeds=3,
                higher_is_better=False, digits=1, paper=table2, labels=labels),
            Experiment(
                f"noisy_test_error_{name}",
                f"{name}, {noisy}, trained long: test error of the same two models ({toy_budget(LONG_STEPS)})",
                "% test error, 1,000 clean test points", _toy_measure(name, NOISY_FRACTION, LONG_STEPS, "test_error"),
                seeds=3, higher_is_better=False, digits=1, paper=table2, labels=labels)]
    fig2 = "Fig. 2, CIFAR-10, PreAct ResNet-18"
    between = (f"{BETWEEN_PAIRS} random pairs of training points (x_i, x_j), x̃ = λ·x_i + (1 − λ)·x_j at "
               f"{BETWEEN_LAMBDAS} values of λ from 0.025 to 0.975")
    sweep_labels = {_sweep_key(a): method_name(a) for a in SWEEP_ALPHAS}
    sweep_paper = Paper(None, "§3.1 (ImageNet), §3.4 (Table 2)",
                        "ImageNet: α ∈ [0.1, 0.4] improves on ERM and larger α underfits; label corruption "
                        "(CIFAR-10): α ∈ {1, 2, 8, 32} tried, the best results use large α (8, 32)")
    experiments += [
        Experiment(
            "between_grad_norm_moons",
            f"moons, clean labels: the gradient of the loss w.r.t. the input is smaller in-between training "
            f"points with mixup (Fig. 2b; {between}; {toy_budget(BETWEEN_STEPS)})",
            "mean ‖∇_x̃ ℓ(f(x̃), ỹ)‖ over pairs and λ (cross-entropy against the mixed label ỹ; lower is smoother)",
            _between_measure("moons", "grad_norm"), seeds=5, higher_is_better=False, digits=2, labels=labels,
            paper=Paper(None, fig2, "a plot: mixup's gradient norms in-between training data are smaller than "
                                    "ERM's")),
        Experiment(
            "between_miss_moons",
            f"moons, clean labels: in-between training points mixup predicts the mixed label more often "
            f"(Fig. 2a; {between}; {toy_budget(BETWEEN_STEPS)})",
            "% of mixed points whose prediction is not the larger-weighted label of ỹ (a miss; lower is better)",
            _between_measure("moons", "miss"), seeds=5, higher_is_better=False, digits=1, labels=labels,
            paper=Paper(None, fig2, "a plot; the paper counts a miss when the prediction is neither y_i nor y_j "
                                    "(10 classes), which cannot happen with 2 classes")),
        Experiment(
            "alpha_sweep_test_error_moons",
            f"moons, {noisy}, trained long: test error against α ({toy_budget(LONG_STEPS)})",
            "% test error, 1,000 clean test points", _sweep_measure("moons", "test_error"), seeds=3,
            higher_is_better=False, digits=1, labels=sweep_labels, paper=sweep_paper),
        Experiment(
            "alpha_sweep_memorised_moons",
            f"moons, {noisy}, trained long: flipped labels memorised against α ({toy_budget(LONG_STEPS)})",
            memorised, _sweep_measure("moons", "memorised"), seeds=3,
            higher_is_better=False, digits=1, labels=sweep_labels, paper=sweep_paper),
        Experiment(
            "memorised_flipped_labels_moons_tab",
            f"moons, {noisy}, at the tab's budget ({toy_budget(TOY_STEPS)}): ERM has not yet fitted many "
            "flipped labels, so the difference is small",
            memorised, _toy_measure("moons", NOISY_FRACTION, TOY_STEPS, "memorised"), seeds=5,
            higher_is_better=False, digits=1, paper=table2, labels=labels),
        Experiment(
            "digits_test_error",
            f"scikit-learn digits ({split_size('train'):,} train / {split_size('test'):,} test): test error, "
            f"ERM vs mixup ({digit_budget})",
            "% test error", _digit_measure("test_error"), seeds=5, higher_is_better=False, digits=2,
            paper=table1, labels=digit_labels),
        Experiment(
            "digits_ece",
            f"scikit-learn digits: expected calibration error of the same models ({digit_budget})",
            f"ECE, {ECE_BINS} equal-width confidence bins (lower is better)", _digit_measure("ece"),
            seeds=5, higher_is_better=False, digits=3,
            paper=Paper(None, "not in the paper", "Thulasidasan et al. 2019 report lower ECE with mixup "
                                                  "for large networks"), labels=digit_labels),
        Experiment(
            "clean_test_error_moons",
            f"moons, clean labels: test error, ERM vs mixup ({toy_budget(TOY_STEPS)})",
            "% test error, 1,000 test points", _toy_measure("moons", 0.0, TOY_STEPS, "test_error"),
            seeds=5, higher_is_better=False, digits=1, paper=table1, labels=labels),
    ]
    return experiments


EXPERIMENTS = _experiments()
