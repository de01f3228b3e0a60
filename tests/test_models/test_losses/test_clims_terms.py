"""CLIMS: each formula on toy inputs with numbers worked out by hand, the term on a fake
CLIP whose similarities are known, both code versions, and the real OpenCLIP plumbing
(random tiny weights)."""
import math

import pytest
import torch
from torch import nn

from mmwsss.models.foundation.clims_prompts import (CLIMS_COCO_BG_WORDS, CLIMS_COCO_NAMES,
                                                    CLIMS_VOC_NAMES, clims_bg_prompts,
                                                    clims_class_prompts, clims_cr_bg_prompts,
                                                    clims_cr_class_weights)
from mmwsss.models.losses.terms.clims import (CLIMSTerm, area_loss, background_suppression_loss,
                                              background_suppression_loss_cr, clims_masked_views,
                                              cosine_pairs, sim_max_loss, sim_min_loss)
from mmwsss.structures import TrainContext

# ---------------------------------------------------------------- formulas


def test_area_loss_is_the_mean_over_classes_and_pixels():
    maps = torch.tensor([[[[0.1, 0.5], [0.9, 0.3]], [[0.0, 0.0], [0.2, 0.0]]]])
    # (0.1 + 0.5 + 0.9 + 0.3 + 0.2) / 8 = 2.0 / 8
    assert area_loss(maps).item() == pytest.approx(0.25, abs=1e-7)


def test_sim_max_loss():
    s = torch.tensor([0.5, 0.25])
    # -(ln 0.5 + ln 0.25) / 2 = (0.693147 + 1.386294) / 2
    assert sim_max_loss(s).item() == pytest.approx(1.0397208, abs=1e-6)
    # root clamp [1e-4, 0.9999]: -(ln 1e-4 + ln 0.9999) / 2
    assert sim_max_loss(torch.tensor([0.0, 1.0])).item() == pytest.approx(4.6052202, abs=1e-5)
    # camera-ready weights (3 for sofa): -(3 ln 0.5 + ln 0.25) / 2 (mean over P, not / sum w)
    w = torch.tensor([3.0, 1.0])
    assert sim_max_loss(s, w, clamp=None).item() == pytest.approx(1.7328680, abs=1e-6)
    # no clamp: log(0) is -inf, as the camera-ready code
    assert math.isinf(sim_max_loss(torch.tensor([0.0, 0.5]), clamp=None).item())


def test_sim_min_loss():
    s = torch.tensor([0.5, 0.75])
    # -(ln(1 - 0.5) + ln(1 - 0.75)) / 2
    assert sim_min_loss(s).item() == pytest.approx(1.0397208, abs=1e-6)
    # clamp at 0.9999: -ln(1e-4) (1 - float32(0.9999) is 1.00017e-4, hence 2e-4 tolerance)
    assert sim_min_loss(torch.tensor([1.0])).item() == pytest.approx(9.2103404, abs=2e-4)


def test_background_suppression_is_a_thresholded_sum():
    sim = torch.tensor([[0.3, 0.2], [0.5, 0.26]])
    # only 0.3 and 0.5 are > 0.26 (strict): -(ln 0.7 + ln 0.5), a SUM
    assert background_suppression_loss(sim, 0.26).item() == pytest.approx(1.0498221, abs=1e-6)
    assert background_suppression_loss(sim, 0.6).item() == 0.0


def test_background_suppression_camera_ready_per_class_mean():
    sim = torch.tensor([[0.5, 0.75, 0.9], [0.9, 0.9, 0.9], [0.5, 0.5, 0.5]])
    has = torch.tensor([[True, True, False], [False, False, False], [False, False, True]])
    # row 0: -(ln 0.5 + ln 0.25) / 2 = 1.039721; row 1 has no prompt; row 2: -ln 0.5
    assert background_suppression_loss_cr(sim, has).item() == pytest.approx(
        1.0397208 + 0.6931472, abs=1e-6)
    assert background_suppression_loss_cr(sim, torch.zeros_like(has)).item() == 0.0


def test_masked_views_resize_align_corners_and_order():
    # map of class 1 of image 0: [[0, 1], [1, 0]] -> 3x3 with align_corners=True keeps the
    # corners and averages between them: [[0, .5, 1], [.5, .5, .5], [1, .5, 0]]
    maps = torch.zeros(2, 3, 2, 2)
    maps[0, 1] = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    maps[1, 0] = 0.25
    img = torch.full((2, 3, 2, 2), 2.0)
    img[1] = -1.0
    labels = torch.tensor([[0, 1, 1], [1, 0, 0]])
    fg, bg, pos = clims_masked_views(maps, img, labels, size=3)
    assert pos.tolist() == [[0, 1], [0, 2], [1, 0]]  # row-major (image, class)
    up = torch.tensor([[0.0, 0.5, 1.0], [0.5, 0.5, 0.5], [1.0, 0.5, 0.0]])
    assert torch.allclose(fg[0], 2 * up.expand(3, 3, 3))
    assert torch.allclose(bg[0], 2 * (1 - up).expand(3, 3, 3))
    assert torch.allclose(fg[1], torch.zeros(3, 3, 3))  # class 2 map is 0
    assert torch.allclose(fg[2], torch.full((3, 3, 3), -0.25))
    assert torch.allclose(bg[2], torch.full((3, 3, 3), -0.75))
    # not square: the aspect ratio is not kept (224 x 224 from any crop)
    fg, _, _ = clims_masked_views(
        torch.rand(1, 3, 5, 7), torch.rand(1, 3, 17, 23), torch.tensor([[1, 0, 1]]), size=224)
    assert fg.shape == (2, 3, 224, 224)


def test_cosine_pairs():
    a = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert torch.allclose(cosine_pairs(a, b), torch.tensor([0.6, 0.0]))


# ---------------------------------------------------------------- prompts


def test_prompts_per_dataset_and_version():
    voc = clims_class_prompts('voc')
    assert len(voc) == 20 and voc[14] == 'a photo of player.' and voc[10] == \
        'a photo of dining table.'
    assert len(CLIMS_COCO_NAMES) == 80 and CLIMS_COCO_NAMES[0] == 'player'
    assert clims_bg_prompts('voc')[0] == 'a photo of tree.' and len(clims_bg_prompts('voc')) == 10
    assert len(CLIMS_COCO_BG_WORDS) == 88
    cr = clims_class_prompts('voc', 'camera_ready')
    assert cr[14] == 'a photo of person' and cr[10] == 'a photo of diningtable'
    assert sorted(clims_cr_bg_prompts()) == [3, 18]  # boat, train
    w = clims_cr_class_weights()
    assert [i for i, x in enumerate(w) if x == 3.0] == [8, 10, 17]  # chair, diningtable, sofa
    assert CLIMS_VOC_NAMES[3] == 'boat'


# ---------------------------------------------------------------- the term


class FakeCLIP(nn.Module):
    """Text: class prompts -> (1, 0), anything else (background prompts) -> (0, 1).
    Image: normalize([mean of the view, 0.5])."""

    def __init__(self, class_prompts):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.class_prompts = set(class_prompts)

    def encode_text(self, texts, normalize=True):
        rows = [[1.0, 0.0] if t in self.class_prompts else [0.0, 1.0] for t in texts]
        return torch.tensor(rows)

    def encode_image(self, img, pool='tok', normalize=True):
        assert pool == 'tok' and img.shape[-2:] == (224, 224)
        m = img.flatten(1).mean(1)
        emb = torch.stack([m, torch.full_like(m, 0.5)], 1)
        return nn.functional.normalize(emb, dim=-1)


def _ctx(raw, labels, inputs):
    ctx = TrainContext(inputs=inputs, img=None, img_labels=labels, data_samples=[], iter=0)
    ctx.cams['clims'] = raw
    return ctx


def test_term_root_numbers():
    term = CLIMSTerm(version='root', dataset='voc')
    term.set_clip(FakeCLIP(term.class_prompts))
    # sigmoid(ln 4) = 0.8 everywhere, image of ones: fg view mean 0.8, bg view 0.2
    raw = torch.full((1, 20, 4, 6), math.log(4.0), requires_grad=True)
    labels = torch.zeros(1, 20)
    labels[0, 7] = 1
    out = term(_ctx(raw, labels, torch.ones(1, 3, 9, 13)))
    # fg emb (0.8, 0.5)/0.94340 = (0.847998, 0.529999); bg emb (0.2, 0.5)/0.53852 = (0.371391, .)
    assert out['otm'].item() == pytest.approx(-math.log(0.8479983), abs=1e-5)  # 0.164877
    assert out['btm'].item() == pytest.approx(-math.log(1 - 0.3713907), abs=1e-5)  # 0.464245
    # 10 VOC background prompts, each cos 0.529999 > 0.26: 10 * -ln(0.470001)
    assert out['cbs'].item() == pytest.approx(10 * 0.7550203, abs=1e-4)
    assert out['reg'].item() == pytest.approx(0.8, abs=1e-6)
    assert out['loss_otm'].item() == pytest.approx(10 * 0.1648766, abs=1e-4)
    assert out['loss_btm'].item() == pytest.approx(24 * 0.4642453, abs=1e-4)
    assert out['loss_cbs'].item() == pytest.approx(7.550203, abs=1e-3)
    assert out['loss_reg'].item() == pytest.approx(0.2 * 0.8, abs=1e-6)
    sum(v for k, v in out.items() if k.startswith('loss')).backward()
    assert raw.grad is not None and raw.grad.abs().sum() > 0


def test_term_root_cbs_threshold_and_no_positive():
    term = CLIMSTerm(version='root', dataset='voc', cbs_thr=0.6)
    term.set_clip(FakeCLIP(term.class_prompts))
    raw = torch.full((1, 20, 4, 4), math.log(4.0))
    labels = torch.zeros(1, 20)
    labels[0, 0] = 1
    out = term(_ctx(raw, labels, torch.ones(1, 3, 8, 8)))
    assert out['cbs'].item() == 0.0  # 0.53 < 0.6
    out = term(_ctx(raw, torch.zeros(1, 20), torch.ones(1, 3, 8, 8)))
    assert out['otm'].item() == 0.0 and out['reg'].item() == pytest.approx(0.8, abs=1e-6)


def test_term_camera_ready_numbers():
    term = CLIMSTerm(version='camera_ready', dataset='voc', loss_weights=(10, 25, 29.5, 1.15))
    term.set_clip(FakeCLIP(term.class_prompts))
    raw = torch.full((1, 20, 4, 4), math.log(4.0))
    labels = torch.zeros(1, 20)
    labels[0, 3] = 1  # boat: 5 background prompts
    labels[0, 17] = 1  # sofa: weight 3, no background prompt
    out = term(_ctx(raw, labels, torch.ones(1, 3, 8, 8)))
    # weights (1, 3), mean over the 2 positives: 2 * -ln(0.847998)
    assert out['otm'].item() == pytest.approx(2 * 0.1648766, abs=1e-5)
    assert out['btm'].item() == pytest.approx(2 * 0.4642453, abs=1e-5)
    # boat only: mean over its 5 prompts of -ln(1 - 0.53) (no threshold)
    assert out['cbs'].item() == pytest.approx(0.7550203, abs=1e-5)
    assert out['loss_cbs'].item() == pytest.approx(29.5 * 0.7550203, abs=1e-3)
    assert len(term.bg_prompts) == 9


def test_term_renormalize_input():
    term = CLIMSTerm(
        clip_input='renormalize',
        src_mean=[127.0] * 3,
        src_std=[128.0] * 3,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375])
    x = term.clip_image_input(torch.zeros(1, 3, 1, 1))
    # (127 - 123.675) / 58.395, (127 - 116.28) / 57.12
    assert x[0, 0].item() == pytest.approx(0.0569398, abs=1e-6)
    assert x[0, 1].item() == pytest.approx(0.1876751, abs=1e-6)
    with pytest.raises(ValueError):
        CLIMSTerm(clip_input='renormalize')
    with pytest.raises(ValueError):
        CLIMSTerm(version='camera_ready', dataset='coco')


def test_term_with_real_open_clip_keeps_clip_out_of_the_state_dict():
    pytest.importorskip('open_clip')
    from mmwsss.models.foundation import TINY_CLIP_CFG
    term = CLIMSTerm(clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG, checkpoint=None))
    raw = torch.randn(2, 20, 5, 7, requires_grad=True)
    labels = torch.zeros(2, 20)
    labels[0, [2, 9]] = 1
    labels[1, 14] = 1
    out = term(_ctx(raw, labels, torch.randn(2, 3, 33, 47)))
    assert all(torch.isfinite(v) for v in out.values())
    assert not any('clip' in k for k in term.state_dict())
    assert not any(True for _ in term.parameters())
    # gradients reach the maps through the frozen CLIP image tower
    model = term.clip_model(raw.device)
    maps = torch.rand(1, 2, 4, 4, requires_grad=True)
    fg, bg, _ = clims_masked_views(maps, torch.randn(1, 3, 16, 16), torch.tensor([[1, 1]]))
    model.encode_image(torch.cat([fg, bg]), pool='tok').sum().backward()
    assert maps.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in model.parameters())


def test_missing_clip_checkpoint_names_the_file(tmp_path):
    pytest.importorskip('open_clip')
    path = str(tmp_path / 'ViT-B-32.pt')
    term = CLIMSTerm(clip=dict(type='OpenCLIP', arch='ViT-B-32', checkpoint=path))
    labels = torch.zeros(1, 20)
    labels[0, 0] = 1
    with pytest.raises(Exception, match='ViT-B-32.pt'):
        term(_ctx(torch.zeros(1, 20, 4, 4), labels, torch.zeros(1, 3, 8, 8)))
