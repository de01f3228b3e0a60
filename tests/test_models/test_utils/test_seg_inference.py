"""ToCo's multi-scale segmentation merge (infer_seg_voc.py), by hand."""
import pytest
import torch

from mmwsss.models.utils import multi_scale_seg_logits


def _ramp_fn(x):
    """Not flip-equivariant: logits = mean image * column index (0, 1, 2, ...)."""
    cols = torch.arange(x.shape[-1], dtype=x.dtype)
    return x.mean(1, keepdim=True) * cols


def test_flip_sum_undoes_the_flip():
    x = torch.ones(1, 3, 2, 3)
    out = multi_scale_seg_logits(_ramp_fn, x, scales=(1.0, ), flip=True, flip_merge='sum')
    # image: [0, 1, 2]; flipped run gives [0, 1, 2] on the flipped image, flipped back
    # [2, 1, 0]; the sum is [2, 2, 2] in every row
    assert out[0, 0].tolist() == [[2., 2., 2.], [2., 2., 2.]]
    mx = multi_scale_seg_logits(_ramp_fn, x, scales=(1.0, ), flip=True, flip_merge='max')
    assert mx[0, 0, 0].tolist() == [2., 1., 2.]


def test_scales_use_int_sizes_and_are_max_merged():
    sizes = []

    def fn(x):
        sizes.append(tuple(x.shape[-2:]))
        return torch.full_like(x[:, :1], float(x.shape[-1]))  # logit = its width

    x = torch.zeros(1, 3, 5, 7)
    out = multi_scale_seg_logits(fn, x, scales=(1.0, 1.5, 1.25), scale_merge='max')
    # int(1.5 * 5) = 7, int(1.5 * 7) = 10; int(1.25 * 5) = 6, int(1.25 * 7) = 8
    assert sizes == [(5, 7), (7, 10), (6, 8)]
    assert out.shape == (1, 1, 5, 7) and torch.allclose(out, torch.full_like(out, 10.0))
    mean = multi_scale_seg_logits(fn, x, scales=(1.0, 1.5, 1.25), scale_merge='mean')
    assert torch.allclose(mean, torch.full_like(mean, (7 + 10 + 8) / 3))
    with pytest.raises(ValueError):
        multi_scale_seg_logits(fn, x, scale_merge='sum')
