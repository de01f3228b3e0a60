import torch

from mmwsss.models.utils import multi_scale_cams


def _cam_fn(x):
    # a "CAM" that is the first channel shifted: asymmetric so flips matter
    return x[:, :1] - 0.5


def test_single_scale_no_flip_relu_and_max_norm():
    x = torch.tensor([[[[0., 1., 2., 3.]]]]).expand(1, 3, 1, 4)
    out = multi_scale_cams(_cam_fn, x, scales=(1.0, ), flip=False, norm='max')
    # relu(x - .5) = [0, .5, 1.5, 2.5] / 2.5
    assert torch.allclose(out[0, 0, 0], torch.tensor([0., .2, .6, 1.]), atol=1e-4)


def test_flip_sum_vs_max():
    x = torch.tensor([[[[0., 1., 2., 3.]]]]).expand(1, 3, 1, 4)
    # flipped branch: cam(flip x) flipped back equals cam(x): sum doubles, max keeps
    s = multi_scale_cams(_cam_fn, x, flip=True, flip_merge='sum', norm='none')
    m = multi_scale_cams(_cam_fn, x, flip=True, flip_merge='max', norm='none')
    assert torch.allclose(s, 2 * m)
    assert torch.allclose(m[0, 0, 0], torch.tensor([0., .5, 1.5, 2.5]))


def test_relu_order_matters():
    # x = [0, 0, 1, 1] (2 rows); at scale 0.5 the input is [0, 1] and the
    # cam [-1, 1]. Upsampling back to 4 (bilinear, align_corners=False) samples
    # source positions [0, .25, .75, 1] (clamped):
    #   IRN  relu -> resize: relu([-1, 1]) = [0, 1] -> [0, .25, .75, 1]
    #   ToCo resize -> relu: [-1, -.5, .5, 1] -> [0, 0, .5, 1]
    x = torch.tensor([0., 0., 1., 1.]).view(1, 1, 1, 4).expand(1, 3, 2, 4).contiguous()

    def fn(z):
        return z[:, :1] * 2 - 1
    kw = dict(scales=(0.5, ), flip=False, norm='none')
    irn = multi_scale_cams(fn, x, relu_first=True, **kw)
    toco = multi_scale_cams(fn, x, relu_first=False, **kw)
    assert torch.allclose(irn[0, 0, 0], torch.tensor([0., .25, .75, 1.]))
    assert torch.allclose(toco[0, 0, 0], torch.tensor([0., 0., .5, 1.]))
    # scales are summed (or maxed)
    two = multi_scale_cams(fn, x, scales=(0.5, 0.5), flip=False, norm='none')
    assert torch.allclose(two, 2 * irn)


def test_labels_mask_and_shape():
    x = torch.rand(2, 3, 8, 8)

    def fn(z):
        return torch.nn.functional.avg_pool2d(z, 2)[:, :2]
    labels = torch.tensor([[1., 0.], [0., 1.]])
    out = multi_scale_cams(fn, x, scales=(1.0, 0.5, 1.5), img_labels=labels)
    assert out.shape == (2, 2, 8, 8)
    assert out[0, 1].abs().sum() == 0 and out[1, 0].abs().sum() == 0
    assert torch.allclose(out[0, 0].max(), torch.tensor(1.), atol=1e-4)
