"""MMCST's contrastive terms (mmwsss/models/losses/mmcst_loss.py), numbers worked out by hand."""
import math

import pytest
import torch

from mmwsss.models.losses import class_token_contrast, text_visual_contrast
from mmwsss.models.losses.terms import MMCSTClassTokenTerm, MMCSTTextVisualTerm
from mmwsss.structures import BranchOutput, TrainContext
from mmwsss.structures.backbone_output import BackboneOutput

# visual v0 = (1, 0), v1 = (0, 1); text t0 = t1 = (1, 0) (scaled: the cosine normalises).
# cos(v_c, t_c') = [[1, 1], [0, 0]] (rows visual, columns text).
V = torch.tensor([[[2., 0.], [0., 3.]]])
T = torch.tensor([[[5., 0.], [0.5, 0.]]])
L2 = math.log(2.)
# v->t at tau 1: c=0 logits [1, 1] -> log 2; c=1 logits [0, 0] -> log 2
# t->v: t0 logits [1, 0], target 0 -> log(1 + e^-1); t1 logits [1, 0], target 1 -> 1 + log(1 + e^-1)
T2V0 = math.log(1 + math.exp(-1))
T2V1 = 1 + math.log(1 + math.exp(-1))
PER0, PER1 = 0.5 * (L2 + T2V0), 0.5 * (L2 + T2V1)  # 0.503204, 1.003204


def test_text_visual_contrast_by_hand():
    assert PER0 == pytest.approx(0.503204, abs=1e-6)
    assert PER1 == pytest.approx(1.003204, abs=1e-6)
    got = text_visual_contrast(V, T, torch.tensor([[1., 0.]]), tau=1.0)
    assert got.item() == pytest.approx(PER0, abs=1e-6)
    got = text_visual_contrast(V, T, torch.tensor([[0., 1.]]), tau=1.0)
    assert got.item() == pytest.approx(PER1, abs=1e-6)
    got = text_visual_contrast(V, T, torch.tensor([[0., 0.]]), tau=1.0, anchors='all')
    assert got.item() == pytest.approx(0.5 * (PER0 + PER1), abs=1e-6)
    # tau 0.5 doubles the logits: c=0 v->t [2, 2] -> log 2, t->v [2, 0] -> log(1 + e^-2)
    got = text_visual_contrast(V, T, torch.tensor([[1., 0.]]), tau=0.5)
    assert got.item() == pytest.approx(0.5 * (L2 + math.log(1 + math.exp(-2))), abs=1e-6)


def test_text_visual_contrast_no_anchor_is_zero_with_graph():
    v = V.clone().requires_grad_()
    got = text_visual_contrast(v, T, torch.zeros(1, 2), tau=1.0)
    assert got.item() == 0.0
    got.backward()
    assert v.grad is not None
    with pytest.raises(ValueError):
        text_visual_contrast(V, T, torch.ones(1, 2), anchors='some')


def test_class_token_contrast_by_hand():
    # image 0 has classes {0, 1}, image 1 class {0}; one token per class (T = C = 2)
    # kept tokens, in (image, token) order: a = img0/class0 (2, 0) -> (1, 0),
    # b = img0/class1 (0, 1), c = img1/class0 (0.6, 0.8); img1/class1 is absent: dropped
    tokens = torch.tensor([[[2., 0.], [0., 1.]], [[0.6, 0.8], [7., 7.]]])
    labels = torch.tensor([[1., 1.], [1., 0.]])
    # anchor a: positive c (cos 0.6), others {b: 0, c: 0.6} -> 0.6 - log(e^0 + e^0.6)
    # anchor b: no positive (class 1 appears once) -> skipped
    # anchor c: positive a (0.6), others {a: 0.6, b: 0.8} -> 0.6 - log(e^0.6 + e^0.8)
    la = -(0.6 - math.log(1 + math.exp(0.6)))
    lc = -(0.6 - math.log(math.exp(0.6) + math.exp(0.8)))
    assert la == pytest.approx(0.437488, abs=1e-6) and lc == pytest.approx(0.798139, abs=1e-6)
    got = class_token_contrast(tokens, [0, 1], labels, tau=1.0)
    assert got.item() == pytest.approx(0.5 * (la + lc), abs=1e-6)
    # tau 0.5: every logit doubles
    la2 = -(1.2 - math.log(1 + math.exp(1.2)))
    lc2 = -(1.2 - math.log(math.exp(1.2) + math.exp(1.6)))
    got = class_token_contrast(tokens, [0, 1], labels, tau=0.5)
    assert got.item() == pytest.approx(0.5 * (la2 + lc2), abs=1e-6)


def test_class_token_contrast_two_modalities_of_one_image_are_positives():
    # one image, class 0 present: visual token 0 and text token 0 are each other's positive,
    # class 1 absent (its tokens dropped) -> -log(e^s / e^s) = 0 for both anchors
    tokens = torch.tensor([[[1., 0.], [0., 1.], [1., 1.], [5., 5.]]])
    got = class_token_contrast(tokens, [0, 1, 0, 1], torch.tensor([[1., 0.]]), tau=1.0)
    assert got.item() == pytest.approx(0.0, abs=1e-6)
    # nothing present -> 0
    assert class_token_contrast(tokens, [0, 1, 0, 1], torch.zeros(1, 2)).item() == 0.0
    with pytest.raises(ValueError):
        class_token_contrast(tokens, [0, 1], torch.ones(1, 2))


def _ctx(cls_tokens, labels):
    feats = BackboneOutput([torch.zeros(cls_tokens.shape[0], 2, 1, 1)], cls_tokens=cls_tokens)
    ctx = TrainContext(
        inputs=torch.zeros(cls_tokens.shape[0], 3, 4, 4),
        img=None,
        img_labels=labels,
        data_samples=[])
    ctx.branches['net'] = BranchOutput(feats=feats)
    return ctx


def test_terms_read_the_token_layout():
    # K = 2C = 4 tokens: visual (V) then text (T)
    cls = torch.cat([V, T], 1)
    ctx = _ctx(cls, torch.tensor([[1., 0.]]))
    tv = MMCSTTextVisualTerm(num_classes=2, tau=1.0, weight=0.1)
    assert tv(ctx)['loss_tv'].item() == pytest.approx(0.1 * PER0, abs=1e-6)
    ctc = MMCSTClassTokenTerm(num_classes=2, tau=1.0)
    # class 0 present: v0 (1, 0) and t0 (1, 0) are positives (cos 1), nothing else kept -> 0
    assert ctc(ctx)['loss_ctc'].item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        MMCSTTextVisualTerm(num_classes=3).compute(ctx)
