"""RCA's region contrast, memory embeddings and mix-up draws, with numbers by hand."""
import math

import numpy as np
import pytest
import torch

from mmwsss.models.losses.region_contrast import (rca_memory_embeddings, rca_region_masks,
                                                  region_contrast_mixup_loss, sample_mixup)


def _coarse():
    # one image, 2 classes, 2 pixels: class-1 logit ln 3 at pixel 1, else 0
    c = torch.zeros(1, 2, 1, 2)
    c[0, 1, 0, 1] = math.log(3.0)
    return c


def test_region_masks_softmax_above_mean():
    # softmax: class 0 (0.5, 0.25), mean 0.375; class 1 (0.5, 0.75), mean 0.625
    m = rca_region_masks(_coarse())
    assert m[0, 0, 0].tolist() == [True, False]
    assert m[0, 1, 0].tolist() == [False, True]


def test_memory_embeddings_conf_and_chain_quirk():
    feats = torch.tensor([[[[2.0, 4.0]]]])  # D = 1
    labels = torch.tensor([[1.0, 1.0]])
    probs = torch.tensor([[0.8, 0.9]])
    emb, write = rca_memory_embeddings(feats, _coarse(), labels, probs)
    assert write.tolist() == [[True, True]]
    assert torch.allclose(emb[0, :, 0], torch.tensor([2.0, 4.0]), rtol=1e-4)
    # official quirk: x = x * mask_0 first (-> (2, 0)), so class 1 pools (0, 0) * mask_1
    emb, _ = rca_memory_embeddings(feats, _coarse(), labels, probs, chain_masks=True)
    assert torch.allclose(emb[0, :, 0], torch.tensor([2.0, 0.0]), rtol=1e-4)
    # a class at 0.7 or below is not written; absent classes never
    emb, write = rca_memory_embeddings(feats, _coarse(), torch.tensor([[1.0, 0.0]]),
                                       torch.tensor([[0.7, 0.99]]))
    assert write.tolist() == [[False, False]] and not emb.any()


def test_contrast_loss_by_hand():
    # memory: class 0 = (1, 0), class 1 = (0, 1); the anchor is (1, 0) whatever the masks
    mid = torch.zeros(1, 2, 1, 2)
    mid[0, 0] = 3.0
    mem = torch.tensor([[[1.0, 0.0]], [[0.0, 5.0]]])  # normalised inside
    labels = torch.tensor([[1.0, 1.0]])
    # tau = 1: logits (1, 0), max 1 -> shifted (0, -1)
    # closs(0) = log(1 + e^-1); closs(1) = 1 + log(1 + e^-1)
    l0 = math.log(1 + math.exp(-1))
    loss = region_contrast_mixup_loss(mid, _coarse(), labels, mem, [(0, 0, 0, 1, 0.75)], tau=1.0)
    want = (0.75 * l0 + 0.25 * (1 + l0)) / 2  # one mix, image 0 has 2 classes
    assert loss.item() == pytest.approx(want, rel=1e-5)
    # two images sum (not average); tau 0.07 scales the logits
    mid2 = mid.repeat(2, 1, 1, 1)
    mixes = [(0, 0, 1, 0, 0.5), (1, 1, 0, 1, 0.5)]
    loss = region_contrast_mixup_loss(
        mid2, _coarse().repeat(2, 1, 1, 1), labels.repeat(2, 1), mem, mixes, tau=0.07)
    t = 1 / 0.07
    la = math.log(1 + math.exp(-t))  # positive class 0
    lb = t + math.log(1 + math.exp(-t))  # positive class 1
    assert loss.item() == pytest.approx((la + lb) / 2, rel=1e-5)


def test_contrast_gradient_reaches_mid_not_memory():
    torch.manual_seed(0)
    mid = torch.randn(2, 4, 3, 5, requires_grad=True)
    coarse = torch.randn(2, 3, 3, 5, requires_grad=True)
    mem = torch.randn(3, 6, 4, requires_grad=True)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    mixes = [(0, 0, 1, 1, 0.4), (0, 2, 0, 0, 0.6), (1, 1, 0, 2, 0.5)]
    loss = region_contrast_mixup_loss(mid, coarse, labels, mem, mixes)
    loss.backward()
    assert torch.isfinite(loss) and mid.grad.abs().sum() > 0
    assert coarse.grad is None and mem.grad is None


def test_sample_mixup_draws_present_classes_seeded():
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    g = torch.Generator().manual_seed(0)
    mixes = sample_mixup(labels, 8.0, generator=g, rng=np.random.default_rng(0))
    assert [(i, c) for i, c, *_ in mixes] == [(0, 0), (0, 2), (1, 1)]
    for _, _, i2, c2, lam in mixes:
        assert labels[i2, c2] == 1 and 0 < lam < 1
    again = sample_mixup(labels, 8.0, torch.Generator().manual_seed(0), np.random.default_rng(0))
    assert again == mixes


def _loop_reference(mid, coarse, labels, memory, mixes, tau):
    """The official per-(image, class) loop, written out step by step on plain tensors
    (independently of the vectorised function): masks, pooling by mask sum, mix, normalise,
    max-shifted logits over the whole memory, the two class terms, / #classes, batch sum."""
    soft = torch.softmax(coarse, 1)
    mem = torch.nn.functional.normalize(memory.reshape(-1, memory.shape[-1]), dim=1)
    cls_of = torch.arange(memory.shape[0]).repeat_interleave(memory.shape[1])
    total = torch.zeros(())
    by_image = {}
    for i, c, i2, c2, lam in mixes:
        m1 = (soft[i, c] > soft[i, c].mean()).float()
        m2 = (soft[i2, c2] > soft[i2, c2].mean()).float()
        e1 = (mid[i] * m1).flatten(1).sum(1) / m1.sum()
        e2 = (mid[i2] * m2).flatten(1).sum(1) / m2.sum()
        a = torch.nn.functional.normalize((e1 * lam + (1 - lam) * e2)[None])[0]
        logit = mem @ a / tau
        mx = logit.max()
        ex = torch.exp(logit - mx)
        terms = []
        for k in (c, c2):
            pos = logit[cls_of == k] - mx
            neg = (ex * (cls_of != k).float()).sum()
            terms.append((-(pos - torch.log((neg + torch.exp(pos)).clamp(min=1e-4)))).mean())
        by_image[i] = by_image.get(i, 0) + terms[0] * lam + terms[1] * (1 - lam)
    for i, v in by_image.items():
        total = total + v / labels[i].sum()
    return total


def test_contrast_matches_the_loop_on_random_inputs():
    torch.manual_seed(3)
    b, c, d, s = 3, 5, 8, 7
    mid = torch.randn(b, d, 6, 9)
    coarse = torch.randn(b, c, 6, 9) * 3
    memory = torch.randn(c, s, d)
    labels = torch.zeros(b, c)
    labels[0, [0, 3]] = 1
    labels[1, 2] = 1
    labels[2, [1, 2, 4]] = 1
    g = torch.Generator().manual_seed(0)
    mixes = sample_mixup(labels, 8.0, generator=g, rng=np.random.default_rng(1))
    for tau in (0.07, 0.5):
        got = region_contrast_mixup_loss(mid, coarse, labels, memory, mixes, tau=tau)
        want = _loop_reference(mid, coarse, labels, memory, mixes, tau)
        assert got.item() == pytest.approx(want.item(), rel=1e-4)


def test_memory_embeddings_match_the_loop_with_chained_masks():
    torch.manual_seed(4)
    feats, coarse = torch.randn(2, 6, 5, 4), torch.randn(2, 4, 5, 4) * 2
    labels = torch.tensor([[1., 1, 0, 1], [0, 1, 1, 0]])
    probs = torch.tensor([[0.9, 0.8, 0.99, 0.75], [0.9, 0.6, 0.95, 0.9]])
    emb, write = rca_memory_embeddings(feats, coarse, labels, probs, chain_masks=True)
    soft = torch.softmax(coarse, 1)
    for j in range(2):
        x = feats[j]
        for k in range(4):
            if labels[j, k] == 1 and probs[j, k] > 0.7:
                m = (soft[j, k] > soft[j, k].mean()).float()
                x = x * m
                ref = x.flatten(1).sum(1) / m.sum()
                assert write[j, k] and torch.allclose(emb[j, k], ref, rtol=1e-4, atol=1e-6)
            else:
                assert not write[j, k]
