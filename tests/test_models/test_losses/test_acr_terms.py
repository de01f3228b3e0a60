"""ACR on the chassis: the flip view pass, the class-token head, the terms, GETAM prediction."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmwsss.models.losses.attention_consistency import (attention_consistency_loss,
                                                        head_mean_attention)
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample

BASE = 'configs/_base_/models/acr_vit-b16-r50.py'


def _model(**test_cam):
    init_default_scope('mmwsss')
    cfg = copy.deepcopy(Config.fromfile(BASE).model)
    cfg.data_preprocessor.size = (32, 48)
    cfg.backbone.vit = dict(type='timm', model_name='vit_tiny_patch16_224', depth=3, img_size=32)
    cfg.backbone.attn_blocks = (0, 1, 2)
    cfg.backbone.init_cfg = None
    cfg.cam_heads.cls.in_channels = 192
    cfg.cam_heads.cls.num_classes = 4
    cfg.cam_heads.cls.grad_cam = dict(start_layer=1, func='grad', aff=True)
    cfg.data_preprocessor.num_classes = 4
    cfg.test_cfg.cam.update(test_cam)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _data(n=2):
    torch.manual_seed(1)
    samples = []
    for i in range(n):
        s = WSSSDataSample()
        s.set_metainfo(dict(img_shape=(32, 48), ori_shape=(32, 48), pad_shape=(32, 48)))
        lab = torch.zeros(4)
        lab[[0, 1 + i]] = 1
        s.gt_img_label = lab
        samples.append(s)
    # a left-right ramp plus noise: not mirror-symmetric
    ramp = torch.linspace(0, 255, 48).expand(3, 32, 48)
    imgs = [(0.5 * ramp + 120 * torch.rand(3, 32, 48)).to(torch.uint8) for _ in range(n)]
    return dict(inputs=imgs, data_samples=samples)


def test_flip_pass_is_the_flipped_batch_and_terms_match_the_formula():
    model = _model()
    model.train()
    data = model.data_preprocessor(_data(), True)
    inputs, wsss = data['inputs'], data['wsss']
    assert not torch.equal(inputs, inputs.flip(-1))  # the test input is not symmetric
    assert torch.equal(wsss.views['flip'], inputs.flip(-1))
    assert wsss.view_flips['flip'].tolist() == [True, True]
    ctx = model.build_context(inputs, data['data_samples'], wsss)
    branch = model.branches['net']
    with torch.no_grad():
        on_flip = branch.backbone(inputs.flip(-1))
        on_main = branch.backbone(inputs)
    got = ctx.passes['flip'].feats
    assert torch.allclose(got[0], on_flip[0], atol=1e-5)
    assert not torch.allclose(got[0], on_main[0], atol=1e-3)
    assert torch.allclose(got.attns[2], on_flip.attns[2], atol=1e-6)

    losses = model.loss(inputs, data['data_samples'], wsss)
    for key in ('cls.loss_cls', 'cls_flip.loss_cls', 'acr.loss_cls_attn', 'acr.loss_aff_attn'):
        assert key in losses
    a1 = head_mean_attention([ctx.branches['net'].feats.attns[b] for b in range(3)])
    a2 = head_mean_attention([got.attns[b] for b in range(3)])
    lc, la = attention_consistency_loss(a1, a2, (2, 3))
    assert losses['acr.loss_cls_attn'].item() == pytest.approx(125 * lc.item(), rel=1e-4)
    assert losses['acr.loss_aff_attn'].item() == pytest.approx(125 * la.item(), rel=1e-4)
    # the flipped view's MLSM uses the flipped pass's class-token logits
    mlsm = torch.nn.functional.multilabel_soft_margin_loss(ctx.passes['flip'].logits['cls'],
                                                           ctx.img_labels)
    assert losses['cls_flip.loss_cls'].item() == pytest.approx(mlsm.item(), rel=1e-5)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert branch.cam_heads['cls'].fc.weight.grad.abs().sum() > 0


def test_cls_token_head_reads_the_pre_norm_class_token():
    model = _model()
    model.eval()
    branch = model.branches['net']
    x = torch.randn(1, 3, 32, 48)
    with torch.no_grad():
        feats = branch.backbone(x)
        logits, cams = branch.cam_heads['cls'](feats)
        vit = branch.backbone.vit
        tokens = vit.blocks(vit.norm_pre(vit._pos_embed(vit.patch_embed(x))))  # pre-norm
    head = branch.cam_heads['cls']
    assert torch.allclose(logits, head.fc(tokens[:, 0]), atol=1e-5)
    assert cams.shape == (1, 4, 2, 3)
    # ACR's unused GAP-over-patches logit
    gap = head.fc(tokens[:, 1:].mean(1))
    assert torch.allclose(head.gap_logits(cams), gap, atol=1e-5)


def test_predict_gives_normalised_getam_seeds_under_no_grad():
    model = _model()
    model.eval()
    data = model.data_preprocessor(_data(1), False)
    with torch.no_grad():
        out = model(**data, mode='predict')
    cam = out[0].cams.data
    assert cam.shape == (4, 32, 48)
    # present classes 0 and 1 are min-max normalised (eps 1e-5 against a tiny random net's
    # max - min of a few 1e-3), absent ones zero
    assert cam[0].max().item() == pytest.approx(1.0, abs=1e-2)
    assert cam[1].max().item() == pytest.approx(1.0, abs=1e-2)
    assert cam[0].min().item() == 0 and cam[1].min().item() == 0
    assert cam[2:].abs().max().item() == 0
    assert out[0].pred_sem_seg.data.shape == (1, 32, 48)
