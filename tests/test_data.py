"""The offline digits: real, resampled to 28×28, a fixed disjoint split, counts known up front."""
import torch

from papers import data


def test_digits_are_28x28_in_unit_range_with_all_classes():
    images, labels = data.digits("train")
    assert images.shape[1:] == (1, data.DIGIT_SIZE, data.DIGIT_SIZE)
    assert 0 <= images.min() and images.max() <= 1
    assert set(labels.tolist()) == set(range(data.DIGIT_CLASSES))


def test_split_is_fixed_disjoint_and_complete():
    train_idx, test_idx = data.split_indices(data.DIGITS_TOTAL)
    assert not set(train_idx) & set(test_idx)
    assert len(train_idx) + len(test_idx) == data.DIGITS_TOTAL
    assert torch.equal(data.digits("test")[0], data.digits("test")[0])


def test_split_sizes_match_without_loading():
    for split in ("train", "test", "all"):
        assert data.split_size(split) == len(data.digits(split)[1])


def test_digits_of_classes_keeps_only_those():
    _, labels = data.digits_of_classes([7, 8, 9], "test")
    assert set(labels.tolist()) == {7, 8, 9}
