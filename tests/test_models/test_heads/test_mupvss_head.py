"""MuP-VSS's head: shapes on a non-square grid, the search / readout formulas, the cache."""
import copy
import math

import pytest
import torch

from mmwsss.models.heads.mupvss_head import MuPVSSHead, search_maps
from mmwsss.models.prototypes.functional import cosine_maps


def make(**kw):
    torch.manual_seed(0)
    cfg = dict(in_channels=12, num_classes=3, embed_dim=8, depth=2, num_heads=2)
    cfg.update(kw)
    return MuPVSSHead(**cfg)


def test_shapes_and_gap_readout_non_square():
    head = make().eval()
    x = torch.randn(2, 12, 5, 7)
    parts = head.forward_parts([x])
    assert parts['patches'].shape == (2, 8, 5, 7)
    assert parts['protos'].shape == (2, 3, 8)
    assert parts['cams'].shape == (2, 3, 5, 7)
    # the default search: 10 * cos(prototype, patch token); logits = GAP of the maps
    want = 10.0 * cosine_maps(parts['patches'], parts['protos'])
    assert torch.allclose(parts['cams'], want, atol=1e-6)
    assert torch.allclose(parts['logits'], parts['cams'].mean((2, 3)), atol=1e-6)
    logits, cams = head([x])
    assert torch.allclose(cams, parts['cams']) and logits.shape == (2, 3)


def test_dot_search_by_hand():
    protos = torch.tensor([[[1.0, 2.0, 0.0, 0.0]]])  # E = 4: scaled by 1 / 2
    patches = torch.tensor([[[[3.0]], [[1.0]], [[5.0]], [[7.0]]]])
    assert search_maps(protos, patches, 'dot').item() == pytest.approx((3 + 2) / 2)
    assert search_maps(protos, patches, 'cos', 2.0).item() == pytest.approx(
        2 * 5 / (math.sqrt(5) * math.sqrt(84)), abs=1e-6)


def test_query_readout():
    head = make(cls_readout='query').eval()
    parts = head.forward_parts([torch.randn(2, 12, 4, 4)])
    want = (parts['protos'] * head.query_weight).sum(-1) + head.query_bias
    assert torch.allclose(parts['logits'], want, atol=1e-6)


def test_prototypes_depend_on_the_image_and_see_each_class():
    head = make().eval()
    a = head.forward_parts([torch.randn(1, 12, 4, 4)])['protos']
    b = head.forward_parts([torch.randn(1, 12, 4, 4)])['protos']
    assert not torch.allclose(a, b)
    assert not torch.allclose(a[0, 0], a[0, 1])


def test_cache_identity_and_deepcopy():
    head = make().train()
    logits, cams = head([torch.randn(2, 12, 4, 4)])
    assert copy.deepcopy(head) is not None  # a cached non-leaf tensor must not break copies
    assert head.pop_parts(torch.zeros_like(cams)) is None  # other cams: no match, cleared
    logits, cams = head([torch.randn(2, 12, 4, 4)])
    parts = head.pop_parts(cams)
    assert parts is not None and parts['logits'] is logits
    assert head.pop_parts(cams) is None  # popped once
    with torch.no_grad():  # no cache outside grad-enabled training forwards
        _, cams = head([torch.randn(2, 12, 4, 4)])
    assert head.pop_parts(cams) is None


def test_bad_options():
    with pytest.raises(ValueError, match='search'):
        make(search='l2')
    with pytest.raises(ValueError, match='cls_readout'):
        make(cls_readout='gmp')
