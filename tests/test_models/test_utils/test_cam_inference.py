"""multi_scale_cams against the official ToCo / IRN functions on identical inputs.

The test network is deliberately *not* flip-equivariant (a random asymmetric
kernel plus a left-to-right ramp) and the input sizes are *not* multiples of its
stride (16), so that the order of flip merge and resize, the input-resize rule
and IRN's strided-up-then-crop resize all change the result.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmwsss.models.utils import multi_scale_cams
from mmwsss.models.utils.cam_inference import (CAM_PRESETS, irn_make_cam, pil_resize,
                                               rescale_inputs, strided_up_size,
                                               toco_multi_scale_cam)
from mmwsss.models.utils.image_norm import normalize

SIZES = [(37, 53), (45, 61)]  # not multiples of the stride 16
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
IMG_NORM = dict(mean=MEAN, std=STD, bgr_to_rgb=True)


def _stride16_net(num_classes: int = 3, seed: int = 0):
    """A fixed random "CAM network" of output stride 16 (ceil(H / 16) cells).

    (N, 3, H, W) -> (N, C, ceil(H/16), ceil(W/16)): a random 3x5 conv (not
    mirror-symmetric), 16x16 average pooling, plus a per-class ramp over the
    output columns, so flip(cam(flip x)) != cam(x) even for a mirror-symmetric x.
    Values are of both signs, so where the ReLU sits matters too.
    """
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(num_classes, 3, 3, 5, generator=g)
    ramp = torch.randn(num_classes, generator=g)

    def cam_fn(x):
        y = F.avg_pool2d(F.conv2d(x, weight, padding=(1, 2)), 16, 16, ceil_mode=True)
        return y + ramp[:, None, None] * torch.linspace(-1, 1, y.shape[-1])

    return cam_fn


def _image(size, batch=1, seed=1):
    """Random uint8 RGB images (B, 3, H, W) and their normalised inputs."""
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (batch, 3, *size), generator=g, dtype=torch.uint8)
    return img, normalize(img, **IMG_NORM)


# ------------------------------------------------------------------- basics
def test_single_scale_no_flip_relu_and_max_norm():
    x = torch.tensor([[[[0., 1., 2., 3.]]]]).expand(1, 3, 1, 4)
    out = multi_scale_cams(lambda z: z[:, :1] - 0.5, x, scales=(1.0, ), flip=False, norm='max')
    # relu(x - .5) = [0, .5, 1.5, 2.5] / 2.5
    assert torch.allclose(out[0, 0, 0], torch.tensor([0., .2, .6, 1.]), atol=1e-4)


@pytest.mark.parametrize('size', SIZES)
def test_flip_branch_is_flipped_back_and_merged(size):
    cam_fn = _stride16_net()
    _, x = _image(size)
    up = dict(size=size, mode='bilinear', align_corners=False)
    plain = F.relu(cam_fn(x))
    mirrored = F.relu(cam_fn(x.flip(-1))).flip(-1)
    assert (plain - mirrored).abs().max() > 0.1  # the net is not flip-equivariant
    kw = dict(scales=(1.0, ), flip=True, relu_first=True, norm='none')
    s = multi_scale_cams(cam_fn, x, flip_merge='sum', **kw)
    assert torch.allclose(s, F.interpolate(plain + mirrored, **up), atol=1e-5)
    m_net = multi_scale_cams(cam_fn, x, flip_merge='max', **kw)
    assert torch.allclose(m_net, F.interpolate(torch.max(plain, mirrored), **up), atol=1e-5)
    m_out = multi_scale_cams(cam_fn, x, flip_merge='max', resize_before_merge=True, **kw)
    assert torch.allclose(
        m_out, torch.max(F.interpolate(plain, **up), F.interpolate(mirrored, **up)), atol=1e-5)
    # max and bilinear resize do not commute; sum and resize do
    assert (m_out - m_net).abs().max() > 1e-2
    s_out = multi_scale_cams(cam_fn, x, flip_merge='sum', resize_before_merge=True, **kw)
    assert torch.allclose(s_out, s, atol=1e-5)


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


# --------------------------------------------------------------- input paths
def test_rescale_rules_sizes_and_errors():
    img, x = _image((45, 61))
    assert rescale_inputs(x, 1.0, 'pil_bicubic') is x  # scale 1: the image as is
    assert rescale_inputs(x, 0.5, 'scale_factor').shape[-2:] == (22, 30)
    assert rescale_inputs(x, 1.5, 'size_int').shape[-2:] == (int(1.5 * 45), int(1.5 * 61))
    # np.round / round: halves to even (22.5 -> 22, 30.5 -> 30, 67.5 -> 68, 91.5 -> 92)
    assert rescale_inputs(x, 0.5, 'pil_bicubic', img_norm=IMG_NORM).shape[-2:] == (22, 30)
    assert rescale_inputs(x, 1.5, 'pil_bicubic', img_norm=IMG_NORM).shape[-2:] == (68, 92)
    # 'size_int' maps coordinates with in / out, 'scale_factor' with 1 / s
    assert not torch.allclose(
        rescale_inputs(x, 1.5, 'size_int'), rescale_inputs(x, 1.5, 'scale_factor'))
    with pytest.raises(ValueError, match='img_norm'):
        rescale_inputs(x, 0.5, 'pil_bicubic')
    with pytest.raises(ValueError, match='input_resize'):
        rescale_inputs(x, 0.5, 'nearest')


def test_pil_resize_is_pil_bicubic():
    img, _ = _image((37, 53), batch=2)
    out = pil_resize(img, (19, 27))
    for i in range(2):
        exp = Image.fromarray(img[i].permute(1, 2, 0).numpy()).resize((27, 19), Image.BICUBIC)
        assert torch.equal(out[i].permute(1, 2, 0), torch.from_numpy(np.asarray(exp)))
    assert pil_resize(img, (37, 53)) is img
    with pytest.raises(TypeError):
        pil_resize(img.float(), (19, 27))


# --------------------------------------------------------------------- ToCo
def test_toco_reference_by_hand():
    """The transcription itself on a 1 x 4 input: scale 1 only, max-merged
    flips, relu, minus min, / (max + 1e-5); scale 1.0 is always included."""
    x = torch.tensor([0., 1., 2., 4.]).view(1, 1, 1, 4).expand(1, 3, 1, 4).contiguous()

    def fn(z):  # identity-like CAM with a column ramp: cam = x + [0, 1, 2, 3] - 2
        return z[:, :1] + torch.arange(4.) - 2

    # cam(x) = [-2, 0, 2, 5]; flip(cam(flip x)) = [0+3, 1+2, 2+1, 4+0] - 2 = [1, 1, 1, 2]
    merged = torch.tensor([1., 1., 2., 5.])  # max, then relu
    exp = (merged - 1) / (4 + 1e-5)
    out = toco_multi_scale_cam(fn, x, (1.0, ))
    assert torch.allclose(out[0, 0, 0], exp, atol=1e-6)
    assert torch.allclose(toco_multi_scale_cam(fn, x, ()), out)  # 1.0 always runs


@pytest.mark.parametrize('size', SIZES)
def test_toco_preset_equals_multi_scale_cam2(size):
    cam_fn = _stride16_net()
    _, x = _image(size, batch=2)
    ref = toco_multi_scale_cam(cam_fn, x, (1.0, 0.5, 1.5))
    ours = multi_scale_cams(cam_fn, x, **CAM_PRESETS['toco'])
    assert ours.shape == (2, 3, *size)
    assert torch.allclose(ours, ref, atol=1e-5)
    # the previous behaviour (max at network resolution, scale_factor inputs) and
    # each of its two departures alone differ clearly on the same input
    old = dict(CAM_PRESETS['toco'], resize_before_merge=False, input_resize='scale_factor')
    for change in (old, dict(CAM_PRESETS['toco'], resize_before_merge=False),
                   dict(CAM_PRESETS['toco'], input_resize='scale_factor')):
        assert (multi_scale_cams(cam_fn, x, **change) - ref).abs().max() > 1e-2


def test_toco_aux_cam_goes_through_the_same_function():
    aux_fn = _stride16_net(seed=7)
    _, x = _image((37, 53))
    assert torch.allclose(
        multi_scale_cams(aux_fn, x, **CAM_PRESETS['toco']),
        toco_multi_scale_cam(aux_fn, x, (1.0, 0.5, 1.5)),
        atol=1e-5)


# ---------------------------------------------------------------------- IRN
def _make_cam_by_hand(cam_fn, img_hwc: np.ndarray, scales):
    """make_cam.py step by step on a (H, W, 3) uint8 numpy image, written
    independently of irn_make_cam: imutils.pil_rescale (np.round sizes, PIL
    bicubic), TorchvisionNormalize (img / 255 - mean) / std, CAM.forward
    (relu, x[0] + x[1].flip(-1)), strided_up_size, sum, crop, / (max + 1e-5)."""
    height, width = img_hwc.shape[:2]
    mean = np.array(MEAN) / 255.
    std = np.array(STD) / 255.
    up = (((height - 1) // 16 + 1) * 16, ((width - 1) // 16 + 1) * 16)
    total = 0
    for s in scales:
        if s == 1:
            s_img = img_hwc
        else:
            target = (int(np.round(height * s)), int(np.round(width * s)))
            s_img = np.asarray(Image.fromarray(img_hwc).resize(target[::-1], Image.BICUBIC))
        proc = ((s_img / 255. - mean) / std).astype(np.float32)
        x = torch.from_numpy(proc.transpose(2, 0, 1).copy())
        cam = F.relu(cam_fn(torch.stack([x, x.flip(-1)])))
        cam = cam[0] + cam[1].flip(-1)
        total = total + F.interpolate(cam[:, None], up, mode='bilinear', align_corners=False)[:, 0]
    highres = total[:, :height, :width]
    return highres / (highres.flatten(1).max(1)[0][:, None, None] + 1e-5)


@pytest.mark.parametrize('size', SIZES)
def test_irn_preset_equals_make_cam(size):
    cam_fn = _stride16_net()
    img, x = _image(size)
    scales = CAM_PRESETS['irn']['scales']
    by_hand = _make_cam_by_hand(cam_fn, img[0].permute(1, 2, 0).numpy(), scales)
    ref = irn_make_cam(cam_fn, img[0], scales, MEAN, STD)
    assert torch.allclose(ref, by_hand, atol=1e-5)
    ours = multi_scale_cams(cam_fn, x, img_norm=IMG_NORM, **CAM_PRESETS['irn'])
    assert ours.shape == (1, 3, *size)
    assert torch.allclose(ours[0], ref, atol=1e-5)
    # straight resize to H x W, and torch-bilinear inputs, each differ
    straight = multi_scale_cams(
        cam_fn, x, img_norm=IMG_NORM, **dict(CAM_PRESETS['irn'], out_stride=None))
    torch_in = multi_scale_cams(cam_fn, x, **dict(CAM_PRESETS['irn'], input_resize='scale_factor'))
    assert (straight[0] - ref).abs().max() > 1e-2
    assert (torch_in[0] - ref).abs().max() > 1e-2


def test_strided_up_size():
    assert strided_up_size((37, 53), 16) == (48, 64)
    assert strided_up_size((32, 45), 16) == (32, 48)
    assert strided_up_size((45, 61), 8) == (math.ceil(45 / 8) * 8, 64)
