"""Offline data sets for the self-trained models (DESIGN.md, "Data: offline and honest").

Nothing here downloads: scikit-learn's 1,797 real handwritten digits ship inside the package.
Every function is seeded and returns tensors.
"""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

DIGIT_SIZE = 28  # digits are resampled from 8x8 to MNIST's 28x28
DIGIT_CLASSES = 10
DIGITS_TOTAL = 1797  # len(sklearn.datasets.load_digits().target), checked in tests
TEST_FRACTION = 0.25
SPLIT_SEED = 0


@functools.cache
def _digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (N, 8, 8) in [0, 1]
    # 8x8 -> 20x20 (bicubic, like MNIST's 20x20 box), padded by 4 to 28x28
    inner = DIGIT_SIZE - 8
    images = F.interpolate(images[:, None], size=(inner, inner), mode="bicubic", align_corners=False)
    images = F.pad(images.clamp(0, 1), (4, 4, 4, 4))  # (N, 1, 28, 28)
    return images, torch.tensor(digits.target, dtype=torch.long)


@functools.cache
def split_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed seeded (train, test) index split of n samples, shared by every digits view."""
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = int(round(n * TEST_FRACTION))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def digits(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """The real handwritten digits as (images (N, 1, 28, 28) in [0, 1], labels (N,)).

    `split` is "train" (75 %), "test" (25 %, fixed seed) or "all".
    """
    images, labels = _digits_28()
    if split == "all":
        return images.clone(), labels.clone()
    train_idx, test_idx = split_indices(len(labels))
    idx = torch.from_numpy({"train": train_idx, "test": test_idx}[split])
    return images[idx].clone(), labels[idx].clone()


def digits_of_classes(classes, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Only the digits whose label is in `classes` (e.g. train on 0-6, verify on 7-9)."""
    images, labels = digits(split)
    keep = torch.isin(labels, torch.as_tensor(list(classes)))
    return images[keep], labels[keep]


def split_size(split: str = "test") -> int:
    """How many digits `digits(split)` returns, without loading scikit-learn (fast UI start-up)."""
    train_idx, test_idx = split_indices(DIGITS_TOTAL)
    return {"train": len(train_idx), "test": len(test_idx), "all": DIGITS_TOTAL}[split]
