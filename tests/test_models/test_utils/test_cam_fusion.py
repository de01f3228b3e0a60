"""AND / OR fusion of two networks' CAMs."""
import pytest
import torch

from mmwsss.models.utils.cam_fusion import fuse_cams


def test_and_or_mean_by_hand():
    a = torch.tensor([[[0.9, 0.2], [0.6, 0.0]]])
    b = torch.tensor([[[0.3, 0.8], [0.7, 0.1]]])
    assert torch.allclose(fuse_cams([a, b], 'and'), torch.tensor([[[0.3, 0.2], [0.6, 0.0]]]))
    assert torch.allclose(fuse_cams([a, b], 'or'), torch.tensor([[[0.9, 0.8], [0.7, 0.1]]]))
    assert torch.allclose(fuse_cams([a, b], 'mean'), torch.tensor([[[0.6, 0.5], [0.65, 0.05]]]))


def test_errors():
    a = torch.rand(2, 3, 3)
    with pytest.raises(ValueError, match='fusion must be one of'):
        fuse_cams([a, a], 'xor')
    with pytest.raises(ValueError, match='one shape'):
        fuse_cams([a, torch.rand(2, 3, 4)], 'and')
    with pytest.raises(ValueError, match='at least one'):
        fuse_cams([], 'and')
