"""BackboneOutput: a plain tuple of feature maps to mmseg, with token extras attached."""
import copy
import pickle

import pytest
import torch

from mmwsss.structures import BackboneOutput


def _out() -> BackboneOutput:
    feats = [
        torch.arange(2 * 4 * 3 * 5, dtype=torch.float32).reshape(2, 4, 3, 5),
        torch.ones(2, 4, 3, 5)
    ]
    return BackboneOutput(
        feats,
        cls_tokens=torch.zeros(2, 1, 4),
        tokens={'aux': torch.full((2, 4, 3, 5), 2.0)},
        attns={11: torch.full((2, 2, 16, 16), 1 / 16)},
        grid=[3, 5])


def test_tuple_semantics_for_mmseg():
    out = _out()
    assert isinstance(out, tuple) and len(out) == 2
    assert out[-1] is out[1] and out[0][0, 0, 0, 1] == 1.0  # feats in the given order
    # what mmseg's BaseDecodeHead._transform_inputs does
    assert [out[i].shape for i in [0, 1]] == [(2, 4, 3, 5)] * 2
    a, b = out
    assert torch.equal(b, torch.ones(2, 4, 3, 5))
    assert out.grid == (3, 5) and out.cls_tokens.shape == (2, 1, 4)
    assert set(out.tokens) == {'aux'} and set(out.attns) == {11}
    # slicing follows tuple semantics: a plain tuple
    assert type(out[:1]) is tuple


def test_pickle_deepcopy_and_replace_keep_the_extras():
    out = _out()
    for clone in (pickle.loads(pickle.dumps(out)), copy.deepcopy(out)):
        assert isinstance(clone, BackboneOutput) and len(clone) == 2
        assert torch.equal(clone[0], out[0]) and clone.grid == (3, 5)
        assert torch.equal(clone.tokens['aux'], out.tokens['aux'])
        assert torch.equal(clone.attns[11], out.attns[11])
    new = out.replace(feats=[out[0] * 2])
    assert len(new) == 1 and torch.equal(new[0], out[0] * 2)
    assert new.cls_tokens is out.cls_tokens and new.grid == out.grid
    with pytest.raises(KeyError, match='unknown fields'):
        out.replace(feat=[])


def test_bad_fields_are_named():
    x = torch.zeros(1, 4, 2, 2)
    with pytest.raises(TypeError, match='sequence of tensors, got a single Tensor'):
        BackboneOutput(x)
    with pytest.raises(TypeError, match=r'feats\[1\] must be a Tensor'):
        BackboneOutput([x, 3])
    with pytest.raises(ValueError, match=r'cls_tokens must be \(B, K, D\)'):
        BackboneOutput([x], cls_tokens=torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"tokens\['aux'\] must be \(B, D, h, w\)"):
        BackboneOutput([x], tokens={'aux': torch.zeros(1, 4, 4)})
    with pytest.raises(TypeError, match='non-negative block indices'):
        BackboneOutput([x], attns={-1: torch.zeros(1, 1, 5, 5)})
    with pytest.raises(ValueError, match='square'):
        BackboneOutput([x], attns={0: torch.zeros(1, 1, 5, 4)})
    with pytest.raises(ValueError, match=r'grid must be \(h, w\)'):
        BackboneOutput([x], grid=(2, 2, 2))
