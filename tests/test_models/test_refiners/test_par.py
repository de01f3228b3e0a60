"""PAR (pixel-adaptive refinement) and ToCo's refine_cams_with_bkg_v2."""
import math
from typing import Optional

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from mmwsss.models.refiners import PAR, PARRefiner, refine_cams_with_bg
from mmwsss.models.refiners.par import dilated_neighbours, par_image, par_offsets
from mmwsss.models.utils.cam import IGNORE_INDEX
from mmwsss.registry import MODELS


def refine_cams_with_bg_loop(par: PAR,
                             img: Tensor,
                             cams: Tensor,
                             img_labels: Tensor,
                             bg_high: float = 0.7,
                             bg_low: float = 0.25,
                             down_scale: int = 2,
                             valid_mask: Optional[Tensor] = None,
                             ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Per-image reference of :func:`refine_cams_with_bg`: ToCo's loop over images,
    keeping only the present channels (the batched version masks absent ones)."""
    b, _, h, w = img.shape
    size = (h // down_scale, w // down_scale)
    img_s = F.interpolate(img.float(), size=size, mode='bilinear', align_corners=False)
    full = torch.cat([torch.ones_like(img_labels[:, :1]), img_labels], 1)
    out = []
    for i in range(b):
        keys = full[i].nonzero().flatten()
        per_pass = []
        for bg in (bg_high, bg_low):
            logits = torch.cat([torch.full_like(cams[i:i + 1, :1], bg), cams[i:i + 1]], 1)
            logits = F.interpolate(logits, size=size, mode='bilinear', align_corners=False)
            probs = logits[:, keys].softmax(1)
            ref = F.interpolate(
                par(img_s[i:i + 1], probs), size=(h, w), mode='bilinear', align_corners=False)
            per_pass.append(keys[ref.argmax(1)][0])
        label_h, label_l = per_pass
        label = label_h.clone()
        label[label_h == 0] = ignore_index
        label[(label_h + label_l) == 0] = 0
        out.append(label)
    label = torch.stack(out)
    if valid_mask is not None:
        label[~valid_mask.bool()] = ignore_index
    return label


def conv_neighbours(x, dilations):
    """Neighbours gathered as the official code does: one-hot 3x3 conv per dilation,
    replicate padding by that dilation. (B, C, H, W) -> (B, C, K, H, W)."""
    kernel = torch.zeros(8, 1, 3, 3)
    for i, (r, c) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]):
        kernel[i, 0, r, c] = 1
    b, ch, h, w = x.shape
    out = []
    for d in dilations:
        pad = torch.nn.functional.pad(x, [d] * 4, mode='replicate')
        pad = pad.reshape(b * ch, 1, h + 2 * d, w + 2 * d)
        out.append(torch.nn.functional.conv2d(pad, kernel, dilation=d).view(b, ch, 8, h, w))
    return torch.cat(out, 2)


def literal_par(par: PAR, imgs, masks):
    """The formulas of the reference notes, written out with the full neighbour tensor."""
    nbr = conv_neighbours(imgs, par.dilations)  # (B, 3, K, H, W)
    aff = -((nbr - imgs[:, :, None]).abs() / (nbr.std(2, keepdim=True) + 1e-8) / par.w1)**2
    aff = aff.mean(1).softmax(1)  # (B, K, H, W)
    pos = torch.tensor([d for _, _, d in par_offsets(par.dilations)])
    pos_aff = (-(pos / (pos.std() + 1e-8) / par.w1)**2).softmax(0)
    aff = aff + par.w2 * pos_aff[None, :, None, None]
    for _ in range(par.num_iter):
        masks = (conv_neighbours(masks, par.dilations) * aff[:, None]).sum(2)
    return masks


def test_offsets_follow_the_official_kernel():
    x = torch.rand(2, 3, 9, 11)
    assert torch.equal(dilated_neighbours(x, [1, 2, 4]), conv_neighbours(x, [1, 2, 4]))
    offs = par_offsets([1, 2])
    assert len(offs) == 16
    assert offs[:8] == [(-1, -1, math.sqrt(2)), (-1, 0, 1.0), (-1, 1, math.sqrt(2)), (0, -1, 1.0),
                        (0, 1, 1.0), (1, -1, math.sqrt(2)), (1, 0, 1.0), (1, 1, math.sqrt(2))]
    assert offs[8] == (-2, -2, 2 * math.sqrt(2)) and offs[9] == (-2, 0, 2.0)


def test_constant_image_hand_numbers():
    """One dilation, one step: A = 1/8 (appearance) + 0.01 * softmax(pos).

    pos = [r2, 1, r2, 1, 1, r2, 1, r2]; std = 0.2214, so the position softmax
    puts 1/4 on each of the 4 edge neighbours and ~0 on the diagonals:
    edge weight 0.1275, diagonal weight 0.125.
    """
    par = PAR(dilations=[1], num_iter=1)
    img = torch.full((1, 3, 3, 3), 0.5)
    mask = torch.arange(1., 10.).reshape(1, 1, 3, 3)
    out = par(img, mask)[0, 0]
    # centre: diagonals 1+3+7+9 = 20, edges 2+4+6+8 = 20
    assert out[1, 1].item() == pytest.approx(0.125 * 20 + 0.1275 * 20, abs=1e-5)
    # corner (0, 0) with replicate padding: diagonals 1+2+4+5, edges 1+1+2+4
    assert out[0, 0].item() == pytest.approx(0.125 * 12 + 0.1275 * 8, abs=1e-5)


def test_constant_image_keeps_constant_mask():
    # sum_n A_n = 1 + w2: a constant mask only grows by (1.01) ** num_iter
    par = PAR()
    out = par(torch.full((2, 3, 20, 24), 7.0), torch.full((2, 3, 20, 24), 0.25))
    assert torch.allclose(out, torch.full_like(out, 0.25 * 1.01**10), rtol=1e-5)


@pytest.mark.parametrize('backend', ['sparse', 'shift'])
def test_matches_literal_formula(backend):
    g = torch.Generator().manual_seed(0)
    imgs = torch.rand(2, 3, 30, 26, generator=g)
    masks = torch.rand(2, 5, 15, 13, generator=g)
    par = PAR(num_iter=3, backend=backend)
    up = torch.nn.functional.interpolate(masks, size=(30, 26), mode='bilinear', align_corners=True)
    ref = literal_par(par, imgs, up)
    assert torch.allclose(par(imgs, masks), ref, atol=1e-6)
    par.cpu_chunk_bytes = 1  # shift: one channel at a time
    assert torch.allclose(par(imgs, masks), ref, atol=1e-6)


def test_gradients_flow_through_shift_backend():
    imgs = torch.rand(1, 3, 12, 12, requires_grad=True)
    masks = torch.rand(1, 2, 12, 12, requires_grad=True)
    PAR(num_iter=2)(imgs, masks).sum().backward()  # 'auto' falls back to shift
    assert imgs.grad.abs().sum() > 0 and masks.grad.abs().sum() > 0


def test_per_channel_scaling_cancels():
    g = torch.Generator().manual_seed(1)
    img = (torch.rand(1, 3, 24, 24, generator=g) * 255).to(torch.uint8)
    masks = torch.rand(1, 3, 24, 24, generator=g)
    par = PAR()
    unit = par(par_image(img, 'unit'), masks)
    imagenet = par(par_image(img, 'imagenet'), masks)
    assert torch.allclose(unit, imagenet, atol=1e-4)
    # RGB order does not matter either (mean over channels)
    assert torch.allclose(unit, par(par_image(img.flip(1), 'unit'), masks), atol=1e-5)


def two_region_image(h=16, w=32, edge=16):
    img = torch.zeros(1, 3, h, w)
    img[..., edge:] = 1.0
    return img


def test_leak_across_edge_is_pulled_back():
    img = two_region_image()
    fg = torch.zeros(1, 1, 16, 32)
    fg[..., 19:] = 1.0  # the object is the right half, the CAM misses 3 columns
    masks = torch.cat([1 - fg, fg], 1).softmax(1)
    out = PAR()(img, masks)
    label = out.argmax(1)[0]
    assert (label[:, :16] == 0).all() and (label[:, 16:] == 1).all()


def test_bg_band_logic_on_hand_made_cam():
    """num_iter=0 and no down-scaling: PAR is the identity, only the band logic stays."""
    par = PAR(num_iter=0)
    cams = torch.tensor([[0.9, 0.5, 0.1, 0.0], [0.0, 0.0, 0.6, 0.8]]).reshape(1, 2, 1,
                                                                              4).repeat(1, 1, 2, 1)
    img = torch.rand(1, 3, 2, 4)
    labels = torch.tensor([[1., 1.]])
    out = refine_cams_with_bg(par, img, cams, labels, 0.7, 0.25, down_scale=1)
    # 0.9 > high: class 1; 0.5 in (low, high]: 255; 0.1, 0.0 <= low: bg (0.6 -> class 2
    # beats 0.1 but only 0.6 <= high: 255); 0.8 > high: class 2
    assert out[0, 0].tolist() == [1, 255, 255, 2]
    valid = torch.ones(1, 2, 4, dtype=torch.bool)
    valid[0, 1, 0] = False
    out = refine_cams_with_bg(par, img, cams, labels, 0.7, 0.25, down_scale=1, valid_mask=valid)
    assert out[0, 1].tolist() == [255, 255, 255, 2]
    # an absent class never wins, even with the strongest CAM
    out = refine_cams_with_bg(par, img, cams, torch.tensor([[0., 1.]]), 0.7, 0.25, down_scale=1)
    assert out[0, 0].tolist() == [0, 0, 255, 2]
    # per-image bg_high (DuPL's dynamic threshold): 0.5 is fg under 0.4, band under 0.6
    cams2 = torch.full((2, 1, 1, 2), 0.5)
    out = refine_cams_with_bg(
        par,
        torch.rand(2, 3, 1, 2),
        cams2,
        torch.ones(2, 1),
        bg_high=torch.tensor([0.4, 0.6]),
        bg_low=0.25,
        down_scale=1)
    assert out[:, 0].tolist() == [[1, 1], [255, 255]]


def test_vectorised_equals_per_image_loop():
    g = torch.Generator().manual_seed(2)
    b, c, h, w = 3, 6, 32, 40
    img = torch.rand(b, 3, h, w, generator=g)
    cams = torch.rand(b, c, h, w, generator=g)
    labels = torch.zeros(b, c)
    labels[0, [1]] = 1
    labels[1, [0, 4, 5]] = 1
    labels[2, [2, 4]] = 1
    valid = torch.ones(b, h, w, dtype=torch.bool)
    valid[1, :5] = False
    par = PAR(num_iter=5)
    fast = refine_cams_with_bg(par, img, cams, labels, valid_mask=valid)
    slow = refine_cams_with_bg_loop(par, img, cams, labels, valid_mask=valid)
    assert torch.equal(fast, slow)
    assert set(fast.unique().tolist()) <= {0, 1, 2, 3, 5, 6, 255}
    assert (fast[1, :5] == 255).all()


def test_refiner_in_chain_from_config():
    chain = MODELS.build(
        dict(
            type='RefineChain',
            refiners=[dict(type='PARRefiner', num_iter=2, bg_high=0.7, bg_low=0.25)]))
    assert isinstance(chain.refiners[0], PARRefiner)
    img = torch.zeros(1, 3, 16, 32, dtype=torch.uint8)
    img[..., 16:] = 255
    cams = torch.zeros(1, 2, 16, 32)
    cams[0, 1, :, 16:] = 0.95
    state = chain(dict(img=img, cams=cams, img_labels=torch.tensor([[0., 1.]])))
    label = chain.final_label(state)
    assert (label[0, :, :16] == 0).all() and (label[0, :, 16:] == 2).all()


def test_scores_mode_refines_and_writes_scores():
    refiner = PARRefiner(mode='scores', num_iter=3, down_scale=1)
    img = (two_region_image() * 255).to(torch.uint8)
    cams = torch.zeros(1, 3, 16, 32)
    cams[0, 2, :, 19:] = 1.0
    state = refiner(
        dict(
            img=img,
            cams=cams,
            img_labels=torch.tensor([[0., 0., 1.]]),
            label=torch.zeros(1, 16, 32, dtype=torch.long)))
    assert state['label'] is None and state['scores'].shape == (1, 4, 16, 32)
    assert (state['scores'][:, 1:3] == 0).all()  # absent classes stay 0
    label = state['scores'].argmax(1)[0]
    assert (label[:, :16] == 0).all() and (label[:, 19:] == 3).all()


@pytest.mark.parametrize('bad', ['size', 'nan', 'empty', 'noimg'])
def test_bad_input_raises(bad):
    refiner = PARRefiner(num_iter=1)
    state = dict(
        img=torch.zeros(1, 3, 8, 8, dtype=torch.uint8),
        cams=torch.rand(1, 2, 8, 8),
        img_labels=torch.tensor([[1., 0.]]))
    if bad == 'size':
        state['img'] = torch.zeros(1, 3, 8, 9, dtype=torch.uint8)
    elif bad == 'nan':
        state['cams'][0, 0, 0, 0] = float('nan')
    elif bad == 'empty':
        state['img_labels'] = torch.zeros(1, 2)
    else:
        state.pop('img')
    with pytest.raises((ValueError, KeyError)):
        refiner(state)


def test_bad_options():
    with pytest.raises(ValueError):
        PARRefiner(mode='other')
    with pytest.raises(ValueError):
        PAR(dilations=[0, 1])
    with pytest.raises(ValueError):
        PAR(backend='dense')
    with pytest.raises(ValueError):
        par_image(torch.zeros(1, 3, 2, 2), 'bgr')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_gpu_matches_cpu():
    g = torch.Generator().manual_seed(3)
    img = torch.rand(2, 3, 24, 24, generator=g)
    cams = torch.rand(2, 4, 24, 24, generator=g)
    labels = torch.tensor([[1., 0, 1, 0], [0, 1, 1, 1]])
    par = PAR(num_iter=4)
    cpu = refine_cams_with_bg(par, img, cams, labels)
    gpu = refine_cams_with_bg(par.cuda(), img.cuda(), cams.cuda(), labels.cuda())
    assert (cpu == gpu.cpu()).float().mean() > 0.999
