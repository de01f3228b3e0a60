"""CLIP-ES confidence-guided ignore (CRF marginals < 0.95 -> 255)."""
import pytest
import torch

from mmwsss.models.refiners import ConfidenceIgnore


def test_confidence_ignore():
    scores = torch.tensor([[[[0.97, 0.50]], [[0.02, 0.10]], [[0.01, 0.40]]]])  # (1, 3, 1, 2)
    cams = torch.zeros(1, 2, 1, 2)
    state = dict(cams=cams, scores=scores, img_labels=torch.tensor([[1., 1.]]))
    out = ConfidenceIgnore(thr=0.95)(state)
    assert torch.equal(out['label'], torch.tensor([[[0, 255]]]))
    out = ConfidenceIgnore(thr=0.45)(state)
    assert torch.equal(out['label'], torch.tensor([[[0, 0]]]))
    # absent classes never win, even with the highest score
    scores2 = torch.tensor([[[[0.30]], [[0.01]], [[0.69]]]])
    state2 = dict(cams=torch.zeros(1, 2, 1, 1), scores=scores2, img_labels=torch.tensor([[1., 0.]]))
    assert torch.equal(ConfidenceIgnore(thr=0.2)(state2)['label'], torch.tensor([[[0]]]))
    with pytest.raises(KeyError, match='scores'):
        ConfidenceIgnore()(dict(cams=cams, img_labels=torch.tensor([[1., 1.]])))
