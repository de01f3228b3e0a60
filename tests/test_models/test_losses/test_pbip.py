"""PBIP: merges, active sub-classes, InfoNCE FG/BG, mask adapter, fused CAM (hand numbers)."""
import math

import pytest
import torch

from mmwsss.models.heads.pbip_head import (PBIPSubclassHead, active_subclasses,
                                           expand_to_subclasses, merge_subclasses, subclass_cams)
from mmwsss.models.losses.terms.pbip import (dynamic_threshold_mask, fg_bg_images, infonce_bg,
                                             infonce_fg)
from mmwsss.models.segmentors.pbip import pbip_fused_cams, seg_label_cams

E = math.e


def test_merge_mean_and_softmax_weighted():
    x = torch.tensor([[1., 3., 0., 0.]])
    assert merge_subclasses(x, [2, 2], 'mean').tolist() == [[2., 0.]]
    # softmax(1, 3) = (e / (e + e^3), e^3 / (e + e^3)); 1 * 0.1192 + 3 * 0.8808
    w = E**3 / (E + E**3)
    got = merge_subclasses(x, [2, 2], 'softmax')
    assert got[0, 0].item() == pytest.approx(1 * (1 - w) + 3 * w, abs=1e-6)
    assert got[0, 1].item() == pytest.approx(0.0)
    # CAMs merge per pixel; k = 1 passes through
    cams = torch.tensor([[[[1., 5.]], [[3., 5.]], [[7., 8.]]]])  # (1, 3, 1, 2)
    m = merge_subclasses(cams, [2, 1], 'mean')
    assert m.tolist() == [[[[2., 5.]], [[7., 8.]]]]
    with pytest.raises(ValueError, match='sums to'):
        merge_subclasses(x, [3, 2])


def test_expand_and_active_rule():
    assert expand_to_subclasses(torch.tensor([[1., 0.]]), [2, 2]).tolist() == [[1, 1, 0, 0]]
    logits = torch.tensor([[1., 3., 0., 0.], [2., 2., -1., 4.]])
    labels = torch.tensor([[1., 1.], [1., 1.]])
    # image 0: class means (2, 0): 3 > 2 only; 0 > 0 is false (strict)
    # image 1: means (2, 1.5): 2 > 2 false twice; 4 > 1.5
    act = active_subclasses(logits, labels, [2, 2])
    assert act.tolist() == [[0, 1, 0, 0], [0, 0, 0, 1]]
    # absent parents never activate
    act = active_subclasses(logits, torch.tensor([[0., 1.], [1., 0.]]), [2, 2])
    assert act.tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]


PROTOS = torch.eye(3)  # unit prototypes p0, p1, p2 in 3-d


def test_infonce_fg_two_samples_ratio_of_sums():
    f = torch.tensor([[1., 0., 0.], [0., 2., 0.]])  # normalised: e0, e1
    cls = torch.tensor([0, 2])
    # t = 1: pair 1 sims (1, 0, 0) positive e; pair 2 sims (0, 1, 0) positive e^0 = 1
    # L = -log((e + 1) / ((e + 1 + 1) + (1 + e + 1))) = log(2e + 4) - log(e + 1)
    want = math.log(2 * E + 4) - math.log(E + 1)
    assert infonce_fg(f, PROTOS, cls, 1.0).item() == pytest.approx(want, abs=1e-6)
    assert want == pytest.approx(0.93134, abs=1e-5)
    # NOT the mean of per-sample logs
    per = (math.log(E + 2) - 1 + math.log(E + 2) - 0) / 2
    assert abs(per - want) > 0.1
    # t = 0.07, against the literal formula
    t = 0.07
    s = torch.nn.functional.normalize(f, dim=1) @ PROTOS.t() / t
    pos = torch.exp(s[[0, 1], cls])
    lit = -torch.log(pos.sum() / torch.exp(s).sum())
    assert infonce_fg(f, PROTOS, cls, t).item() == pytest.approx(lit.item(), rel=1e-5)


def test_infonce_bg_two_samples():
    b = torch.tensor([[1., 0., 0.], [0., 1., 0.]])
    cls = torch.tensor([0, 2])
    # pair 1: others (p1, p2) sims 0, 0 -> mean e^0 = 1; own e^1
    # pair 2: others (p0, p1) sims 0, 1 -> mean (1 + e) / 2; own e^0 = 1
    num = 1 + (1 + E) / 2
    den = (1 + E) + ((1 + E) / 2 + 1)
    want = -math.log(num / den)
    assert infonce_bg(b, PROTOS, cls, 1.0).item() == pytest.approx(want, abs=1e-6)
    assert want == pytest.approx(0.83312, abs=1e-5)


def test_dynamic_threshold_is_per_image_over_all_channels():
    cams = torch.tensor([[[[1., 4.]], [[1.8, 1.9]]]])  # (1, 2, 1, 2), max 4 -> th 2
    assert dynamic_threshold_mask(cams, 0.5).tolist() == [[[[0., 1.]], [[0., 0.]]]]
    # a per-channel max would have kept channel 1 (th 0.95)


def test_fg_bg_images_pairs_and_gradient():
    torch.manual_seed(0)
    inputs = torch.randn(2, 3, 8, 8)
    cams = torch.rand(2, 4, 4, 4, requires_grad=True)
    active = torch.tensor([[0., 1., 0., 0.], [1., 0., 0., 1.]])
    fg, bg, cls = fg_bg_images(inputs, cams, active, 0.5, 8)
    assert fg.shape == bg.shape == (3, 3, 8, 8)
    assert cls.tolist() == [1, 0, 3]  # image-major, torch.where order
    assert 0 <= float(fg.min()) and float(fg.max()) <= 1
    (fg.sum() + bg.sum()).backward()
    assert cams.grad is not None and cams.grad.abs().sum() > 0


def test_subclass_cams_normalise_features_not_weights():
    feat = torch.tensor([3., 4.]).view(1, 2, 1, 1)  # -> (0.6, 0.8)
    w = torch.tensor([[1., 0.], [0., 2.]])
    out = subclass_cams(feat, w, torch.tensor(2.))
    assert out.flatten().tolist() == pytest.approx([1.2, 3.2])


def test_head_shapes_and_loss():
    head = PBIPSubclassHead(in_channels=8, num_classes=2, num_subclasses=3, proto_dim=6)
    logits, cams = head([torch.randn(2, 8, 5, 7)])
    assert logits.shape == (2, 6) and cams.shape == (2, 6, 5, 7)
    assert head.scale.item() == pytest.approx(1 / 0.07)
    assert torch.allclose(head.prototypes().norm(dim=1), torch.ones(6))
    loss = head.loss_from_labels(logits, torch.tensor([[1., 0.], [0., 1.]]))['loss_cls']
    loss.backward()
    assert head.adaptive[0].weight.grad is not None


def test_head_loads_fixed_prototypes(tmp_path):
    import numpy as np
    protos = np.random.RandomState(0).randn(2, 3, 6).astype(np.float32)
    np.savez(tmp_path / 'p.npz', protos=protos, classes=np.array(['a', 'b']))
    head = PBIPSubclassHead(8, 2, 3, 6, checkpoint=str(tmp_path / 'p.npz'))
    assert torch.allclose(head.prototypes(), torch.from_numpy(protos).view(6, 6))
    assert head.bank.update == 'fixed'


def test_fused_cams_weights_and_flip():
    torch.manual_seed(0)
    base = torch.rand(1, 4, 3, 5)  # k = 2 for 2 classes

    def fn(x):
        # a map that follows the input: a flip of the input flips the map
        s = x.mean(1, keepdim=True)
        return {'cam2': base * 0 + s, 'cam3': base + s, 'cam4': base * 2 + s}

    inputs = torch.rand(1, 3, 3, 5)
    labels = torch.tensor([[1., 1.]])
    w = dict(cam2=0.3, cam3=0.3, cam4=0.4)
    fused = pbip_fused_cams(fn, inputs, labels, [2, 2], w, factors=(1.0, ), flip=False)
    cams = fn(inputs)
    want = sum(wt * seg_label_cams(merge_subclasses(cams[n], [2, 2], 'softmax'), labels, (3, 5))
               for n, wt in w.items())
    assert torch.allclose(fused, want)
    assert fused.min() >= 0 and fused.max() <= 1
    # an absent class is zero everywhere
    fused0 = pbip_fused_cams(fn, inputs, torch.tensor([[1., 0.]]), [2, 2], w)
    assert fused0[:, 1].abs().max() == 0


def test_infonce_bg_matches_literal_formula_random():
    torch.manual_seed(1)
    b = torch.randn(5, 8)
    protos = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    cls = torch.tensor([0, 5, 2, 2, 3])
    t = 0.07
    s = torch.nn.functional.normalize(b, dim=1) @ protos.t() / t
    num, den = 0.0, 0.0
    for i in range(5):
        others = torch.cat([s[i, :cls[i]], s[i, cls[i] + 1:]])
        m = torch.exp(others).mean()
        num = num + m
        den = den + m + torch.exp(s[i, cls[i]])
    lit = -torch.log(num / den)
    assert infonce_bg(b, protos, cls, t).item() == pytest.approx(lit.item(), rel=1e-5)
