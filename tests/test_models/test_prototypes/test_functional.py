import pytest
import torch

from mmwsss.models.prototypes import cosine_maps, masked_average


def _feats():
    # (1, 2, 1, 3): pixel features (1, 0), (0, 2), (3, 4)
    return torch.tensor([[[[1., 0., 3.]], [[0., 2., 4.]]]])


def test_masked_average_weight_and_area():
    w = torch.tensor([[[[1., 1., 0.]], [[0., 0.5, 0.5]]]])  # (1, 2, 1, 3)
    p = masked_average(_feats(), w, eps=0.0)
    # slot 0: ((1,0)+(0,2))/2 = (0.5, 1); slot 1: (0.5*(0,2)+0.5*(3,4))/1 = (1.5, 3)
    assert torch.allclose(p, torch.tensor([[[0.5, 1.0], [1.5, 3.0]]]))
    area = masked_average(_feats(), w, reduction='area')
    # sums (1, 2) and (1.5, 3) over h*w = 3 pixels
    assert torch.allclose(area, torch.tensor([[[1 / 3, 2 / 3], [0.5, 1.0]]]))


def test_cosine_maps_shared_and_per_image():
    protos = torch.tensor([[1., 0.], [3., 4.]])
    s = cosine_maps(_feats(), protos)
    # pixel (3,4) vs (1,0): 3/5; vs (3,4): 1; pixel (0,2) vs (3,4): 8/10
    assert torch.allclose(s[0, :, 0], torch.tensor([[1., 0., 0.6], [0.6, 0.8, 1.0]]))
    per_image = cosine_maps(_feats(), protos[None])
    assert torch.allclose(per_image, s)


def test_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match='differ in batch or spatial'):
        masked_average(_feats(), torch.ones(1, 2, 1, 2))
    with pytest.raises(ValueError, match='reduction'):
        masked_average(_feats(), torch.ones(1, 2, 1, 3), reduction='sum')
    with pytest.raises(ValueError, match=r'protos must be'):
        cosine_maps(_feats(), torch.ones(2, 3))
    with pytest.raises(ValueError, match='do not match batch'):
        cosine_maps(_feats(), torch.ones(2, 2, 2))
