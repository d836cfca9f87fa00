"""Datasets as in-memory tensors, batched transforms and a resumable, DDP-aware loader.

Typical use::

    splits = load_data("mnist5k")                      # or "wds:/data/cifar10-jpeg-wds", ...
    cfg = AugmentConfig.from_info(splits.info, **PAPER_CIFAR)
    gen = torch.Generator().manual_seed(0)
    for x, y in Batches(splits.train, 64, seed=0):
        x, y = prepare_batch(x.to(dev), y.to(dev), True, cfg, gen, splits.info["num_classes"])
"""

from .cache import cache_dir
from .dataset import ArrayDataset, DataSplits, channel_stats, make_splits
from .loader import Batches, epoch_permutation
from .mlm import IGNORE_INDEX, mlm_mask
from .pipeline import PAPER_CIFAR, AugmentConfig, prepare_batch
from .registry import DEFAULT_SPEC, detect, list_datasets, load_data, parse_spec
from .splits import per_class, select_classes, stratified_indices, stratified_split, task_splits
from .tokenizer import load_tokenizer, train_tokenizer
from .transforms import (
    cutmix,
    gaussian_noise,
    normalize,
    random_crop,
    random_flip,
    salt_pepper,
    to_float,
)

__all__ = [
    "DEFAULT_SPEC",
    "IGNORE_INDEX",
    "PAPER_CIFAR",
    "ArrayDataset",
    "AugmentConfig",
    "Batches",
    "DataSplits",
    "cache_dir",
    "channel_stats",
    "cutmix",
    "detect",
    "epoch_permutation",
    "gaussian_noise",
    "list_datasets",
    "load_data",
    "load_tokenizer",
    "make_splits",
    "mlm_mask",
    "normalize",
    "parse_spec",
    "per_class",
    "prepare_batch",
    "random_crop",
    "random_flip",
    "salt_pepper",
    "select_classes",
    "stratified_indices",
    "stratified_split",
    "task_splits",
    "to_float",
    "train_tokenizer",
]
