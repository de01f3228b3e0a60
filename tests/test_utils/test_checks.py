"""NaN vs inf in CAMs: the message says which, and names the image and checkpoint."""
import pytest
import torch

from mmwsss.models.utils.cam import cam_to_label, check_cams
from mmwsss.utils.checks import NonFiniteError, check_finite, nonfinite_kind


def test_nan_and_inf_are_told_apart():
    cams = torch.rand(1, 2, 3, 4)
    assert nonfinite_kind(cams) is None
    check_cams(cams)
    nan, inf = cams.clone(), cams.clone()
    nan[0, 1, 2, 3] = float('nan')
    inf[0, 0, 0, 0] = float('inf')
    where = 'image data/a.jpg (checkpoint work_dirs/x/iter_300.pth)'
    with pytest.raises(
            NonFiniteError,
            match=r'^image data/a\.jpg \(checkpoint '
            r'work_dirs/x/iter_300\.pth\): cams contain NaN '
            r'values \(1 of 24\)'):
        check_cams(nan, where=where)
    with pytest.raises(NonFiniteError, match=r'a\.jpg .*cams contain inf values'):
        check_cams(inf, where=where)
    both = nan.clone()
    both[0, 0, 0, 0] = -float('inf')
    with pytest.raises(NonFiniteError, match='NaN and inf'):
        check_finite(both, 'cams')
    # cam_to_label (no caller context) still refuses, and inf is not called NaN
    with pytest.raises(NonFiniteError, match='cams contain inf values'):
        cam_to_label(inf)
    assert nonfinite_kind(torch.tensor([1, 2])) is None  # integer tensors are finite
