"""Batched transforms, MLM masking and prepare_batch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from acn.data import (
    PAPER_CIFAR,
    AugmentConfig,
    cutmix,
    gaussian_noise,
    mlm_mask,
    normalize,
    prepare_batch,
    random_crop,
    random_flip,
    salt_pepper,
    to_float,
)
from acn.errors import ConfigError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int = 64, c: int = 3, h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.randint(1, 256, (n, c, h, w), generator=gen(99), dtype=torch.uint8)


def test_to_float_and_normalize():
    x = torch.tensor([0, 255], dtype=torch.uint8).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    f = to_float(x)
    assert f.dtype == torch.float32 and f.min() == 0 and f.max() == 1
    z = normalize(f, [0.0, 0.5], [1.0, 0.25])
    assert torch.allclose(z[0, 1], torch.full((2, 2), 2.0)) and torch.equal(z[0, 0], f[0, 0])


def test_random_crop_shifts_within_padding():
    x, p = images(), 2
    out = random_crop(x, p, gen(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, random_crop(x, p, gen(1)))  # deterministic under a generator
    padded = F.pad(x, (p, p, p, p))
    offsets = []
    for i in range(len(x)):  # every output is exactly one window of the zero-padded input
        hits = [
            (dy, dx)
            for dy in range(2 * p + 1)
            for dx in range(2 * p + 1)
            if torch.equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 8])
        ]
        assert len(hits) == 1
        offsets.append(hits[0])
    assert len(set(offsets)) > 10  # offsets really vary per image
    assert torch.equal(random_crop(x, 0, gen(1)), x)


def test_random_flip_twice_is_identity():
    x = images()
    once = random_flip(x, gen(5))
    flipped = (once != x).flatten(1).any(1)
    assert 10 < int(flipped.sum()) < 54
    assert torch.equal(once[flipped], x[flipped].flip(3)) and torch.equal(
        once[~flipped], x[~flipped]
    )
    assert torch.equal(random_flip(once, gen(5)), x)


def test_cutmix_targets_match_pasted_area():
    n = 32  # image i is the constant i, so each pixel tells whose image it came from
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, 16, 16).contiguous()
    y = torch.arange(n)
    mixed_any = False
    for seed in range(5):
        mixed, t = cutmix(x, y, num_classes=n, alpha=1.0, prob=1.0, gen=gen(seed))
        assert torch.allclose(t.sum(1), torch.ones(n))
        own = (mixed == x).float().mean(dim=(1, 2, 3))  # unpasted fraction of each image
        assert torch.allclose(own, t[y, y], atol=1e-6)  # target weight of own label = lambda
        for i in range(n):  # the rest of the weight sits on the partner whose pixels were pasted
            vals = mixed[i].unique()
            if len(vals) > 1:
                partner = int(vals[vals != i][0])
                assert torch.isclose(t[i, partner], 1.0 - own[i])
        mixed_any |= bool((own < 1).any())
    assert mixed_any
    same, t = cutmix(x, y, n, prob=0.0, gen=gen(0))
    assert torch.equal(same, x) and torch.equal(t, F.one_hot(y, n).float())


def test_noise_identity_and_range():
    x = to_float(images())
    assert gaussian_noise(x, 0.0, gen()) is x and salt_pepper(x, 0.0, gen()) is x
    noisy = gaussian_noise(x, 0.4, gen())
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, x)
    sp = salt_pepper(x, 0.1, gen())
    changed = (sp != x).any(1)  # per pixel position
    assert 0.07 < changed.float().mean() < 0.13
    vals = sp.permute(0, 2, 3, 1)[changed]
    assert ((vals == 0).all(1) | (vals == 1).all(1)).all()


def test_mlm_mask_rates_and_specials():
    vocab, n, t = 1000, 256, 128
    ids = torch.randint(5, vocab, (n, t), generator=gen(3))
    ids[:, 0], ids[:, -1], ids[:, 100:-1] = 2, 3, 0  # [CLS] ... [SEP] with padding
    ids[:, 99] = 3
    inputs, labels = mlm_mask(ids, vocab, mask_id=4, special_ids=(0, 2, 3), prob=0.15, gen=gen(4))
    special = (ids == 0) | (ids == 2) | (ids == 3)
    selected = labels != -100
    assert not (selected & special).any() and torch.equal(inputs[special], ids[special])
    assert 0.13 < selected[~special].float().mean() < 0.17
    assert torch.equal(labels[selected], ids[selected])
    assert torch.equal(inputs[~selected], ids[~selected])
    sel_in, sel_orig = inputs[selected], ids[selected]
    masked = (sel_in == 4).float().mean()
    kept = (sel_in == sel_orig).float().mean()
    randomised = ((sel_in != 4) & (sel_in != sel_orig)).float().mean()
    assert 0.77 < masked < 0.83 and 0.07 < kept < 0.13 and 0.07 < randomised < 0.13
    assert int(sel_in[sel_in != 4].min()) >= 5  # random tokens never special
    again = mlm_mask(ids, vocab, mask_id=4, special_ids=(0, 2, 3), gen=gen(4))
    assert torch.equal(again[0], inputs)


def test_prepare_batch_train_and_test():
    x, y = images(16), torch.arange(16) % 10
    info = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    cfg = AugmentConfig.from_info(info, **PAPER_CIFAR, noise_sigma=0.1)
    xt, yt = prepare_batch(x, y, True, cfg, gen(0), num_classes=10)
    assert xt.dtype == torch.float32 and xt.shape == x.shape
    assert yt.shape == (16, 10) and torch.allclose(yt.sum(1), torch.ones(16))
    xe, ye = prepare_batch(x, y, False, cfg, gen(0))
    clean, _ = prepare_batch(x, y, False, AugmentConfig.from_info(info), gen(0))
    assert torch.equal(ye, y) and torch.allclose(clean, (to_float(x) - 0.5) / 0.25)
    assert not torch.equal(xe, clean)
    raw, _ = prepare_batch(x, y, False, AugmentConfig())  # no stats: just [0,1] floats
    assert torch.equal(raw, to_float(x))
    with pytest.raises(ConfigError, match="num_classes"):
        prepare_batch(x, y, True, cfg, gen(0))
    with pytest.raises(ConfigError, match="unknown augmentation option"):
        AugmentConfig.from_info(info, crop=4)
    with pytest.raises(ConfigError):
        AugmentConfig(cutmix_prob=1.5)


def test_prepare_batch_passes_token_ids_through():
    from acn.data import AugmentConfig, prepare_batch

    ids = torch.randint(0, 100, (3, 7))
    x, _ = prepare_batch(ids, torch.zeros(3, dtype=torch.long), True, AugmentConfig())
    assert x.dtype == torch.int64 and torch.equal(x, ids)
    vec, _ = prepare_batch(
        torch.ones(2, 5, dtype=torch.float64), torch.zeros(2), False, AugmentConfig()
    )
    assert vec.dtype == torch.float32
