"""Cross-network CAM consistency (configs/xarch): numbers worked out by hand."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.cam_consistency import cross_cam_consistency, max_normalize
from mmwsss.models.losses.terms import CAMConsistencyTerm
from mmwsss.structures import TrainContext


def test_max_normalize_is_relu_over_the_per_class_max():
    cams = torch.tensor([[[[2., -1.], [1., 0.]], [[-3., -1.], [-2., -5.]]]])
    out = max_normalize(cams, eps=0.0 + 1e-5)
    assert torch.allclose(out[0, 0], torch.tensor([[1., 0.], [0.5, 0.]]), atol=1e-5)
    assert torch.equal(out[0, 1], torch.zeros(2, 2))  # all negative: zero, not NaN


def test_l1_on_present_classes_by_hand():
    # class 0 present: a -> [[1, 0], [0, 0]], b -> [[1, 1], [0, 0]]: |diff| sums to 1
    # class 1 absent: its (large) difference must not count
    a = torch.tensor([[[[2., 0.], [0., 0.]], [[5., 0.], [0., 0.]]]])
    b = torch.tensor([[[[1., 1.], [0., -3.]], [[0., 0.], [0., 7.]]]])
    y = torch.tensor([[1., 0.]])
    loss = cross_cam_consistency(a, b, y)
    assert loss.item() == pytest.approx(1 / 4, abs=1e-5)
    # both present: class 1 adds |1-0| + |0-1| = 2 over 4 more pixels -> (1 + 2) / 8
    loss2 = cross_cam_consistency(a, b, torch.tensor([[1., 1.]]))
    assert loss2.item() == pytest.approx(3 / 8, abs=1e-5)


def test_grids_of_different_size_meet_on_the_finer_one():
    a = torch.rand(2, 3, 3, 5)  # 15 cells
    b = torch.rand(2, 3, 6, 4)  # 24 cells: the common grid
    y = torch.tensor([[1., 0., 1.], [0., 1., 0.]])
    loss = cross_cam_consistency(a, b, y)
    na = F.interpolate(max_normalize(a), size=(6, 4), mode='bilinear', align_corners=False)
    nb = max_normalize(b)
    expected = ((na - nb).abs() * y[..., None, None]).sum() / (3 * 24)
    assert torch.allclose(loss, expected)
    assert torch.allclose(cross_cam_consistency(a, b, y, size=(6, 4)), expected)
    with pytest.raises(ValueError, match='same batch and classes'):
        cross_cam_consistency(a, b[:, :2], y)


def test_detach_and_no_labels():
    a = torch.rand(1, 2, 4, 4, requires_grad=True)
    b = torch.rand(1, 2, 4, 4, requires_grad=True)
    y = torch.tensor([[1., 1.]])
    cross_cam_consistency(a, b, y, detach='a').backward()
    assert a.grad is None and b.grad is not None
    zero = cross_cam_consistency(a, b, torch.zeros(1, 2))
    assert zero.item() == 0.0


def test_term_reads_two_named_cams():
    a, b = torch.rand(1, 2, 4, 4), torch.rand(1, 2, 3, 3)
    ctx = TrainContext(
        inputs=torch.zeros(1, 3, 8, 8),
        img=None,
        img_labels=torch.tensor([[0., 1.]]),
        data_samples=[],
        cams=dict(cam_cnn=a, cam_vit=b))
    term = CAMConsistencyTerm(cams=('cam_cnn', 'cam_vit'), weight=0.1)
    out = term(ctx)
    assert torch.allclose(out['loss_xcam'], 0.1 * cross_cam_consistency(a, b, ctx.img_labels))
    with pytest.raises(ValueError, match='two different CAM heads'):
        CAMConsistencyTerm(cams=('x', 'x'))
