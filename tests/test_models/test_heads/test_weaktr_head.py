"""WeakTr's CAM head (SemPLeS's CAM model): the plain functions by hand, the head on a tiny
timm ViT against a loop-by-loop recomputation, gradients, and the checkpoint converter."""
import importlib.util
import os.path as osp

import torch
import torch.nn.functional as F

from mmwsss.models.backbones import AttnOutTokenViT
from mmwsss.models.heads.weaktr_head import (WeakTrHead, fuse_attention, split_fused_attention,
                                             stack_head_features, stack_head_maps, weaktr_fine_cam)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _converter():
    path = osp.join(REPO, 'tools', 'model_converters', 'weaktr.py')
    spec = importlib.util.spec_from_file_location('weaktr_converter', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_stack_head_maps_channel_order():
    # 2 blocks x 2 heads: channel h * L + l
    a0 = torch.stack([torch.full((1, 1), 0.), torch.full((1, 1), 1.)])[None]  # block 0
    a1 = torch.stack([torch.full((1, 1), 10.), torch.full((1, 1), 11.)])[None]  # block 1
    maps = stack_head_maps({0: a0, 1: a1})
    assert maps.flatten().tolist() == [0., 10., 1., 11.]  # (h0 l0, h0 l1, h1 l0, h1 l1)


def test_stack_head_features_interleaved_split():
    # D = 4, H = 2: slice h holds features h, H + h (not the contiguous head layout)
    o = torch.tensor([[[1., 2., 3., 4.]]])  # (B=1, N=1, D=4)
    feats = stack_head_features({0: o}, num_heads=2)
    assert feats.shape == (1, 2, 1, 2)
    assert feats[0, 0, 0].tolist() == [1., 3.] and feats[0, 1, 0].tolist() == [2., 4.]


def test_fuse_split_and_fine_cam_by_hand():
    maps = torch.tensor([[[[1., 0., 0.], [0., 1., 0.], [0., 0., 1.]],
                          [[0., 1., 1.], [1., 0., 1.], [1., 1., 0.]]]])  # (1, 2, 3, 3)
    fused = fuse_attention(maps, torch.tensor([[1.0, 0.5]]))
    assert torch.allclose(fused[0, 0], torch.tensor([0.5, 0.25, 0.25]))
    cross, patch = split_fused_attention(fused, 1, (1, 2))
    assert cross.shape == (1, 1, 1, 2) and cross.flatten().tolist() == [0.25, 0.25]
    assert patch.shape == (1, 2, 2)
    a = torch.tensor([[[0.5, 0.5], [0.25, 0.75]]])
    cams = torch.tensor([[[[1., 3.]]]])
    # fine_i = sum_j A_ij cams_j: 0.5 + 1.5, 0.25 + 2.25
    assert weaktr_fine_cam(a, cams).flatten().tolist() == [2.0, 2.5]


def _tiny_backbone(classes=3):
    return AttnOutTokenViT(
        vit=dict(type='timm', model_name='vit_tiny_patch16_224', depth=2),
        class_tokens=dict(num=classes),
        out_blocks=(-1, ),
        out_norm=False,
        extra_tokens={},
        with_cls_token=False,
        attn_blocks=(0, 1))


def test_head_against_loop_recomputation():
    torch.manual_seed(0)
    bb = _tiny_backbone()
    head = WeakTrHead(
        num_classes=3,
        in_channels=192,
        num_heads=3,
        num_blocks=2,
        reduction=2,
        feat_reduction=8,
        pool='max')
    x = torch.randn(2, 3, 48, 32)  # 3 x 2 patches, non-square
    out = bb(x)
    assert sorted(out.attn_outs) == [0, 1] and out.attn_outs[0].shape == (2, 3 + 6, 192)
    logits, fine = head(out)
    assert fine.shape == (2, 3, 3, 2) and logits.shape == (2, 3)
    # independent recomputation, one (block, head) channel at a time
    aaf = head.adaptive_attention_fusion
    L, H, K = 2, 3, 3
    w_feat = torch.zeros(2, H * L)
    maps = torch.zeros(2, H * L, 9, 9)
    for blk in range(L):
        for h in range(H):
            c = h * L + blk
            f = out.attn_outs[blk][..., h::H]  # (B, N, 64)
            w_feat[:, c] = aaf.attn_feat_ffn(f.amax(1)).squeeze(-1)
            maps[:, c] = out.attns[blk][:, h]
    w = aaf.attn_head_ffn(w_feat)
    fused = (maps * w[:, :, None, None]).mean(1)
    coarse = F.relu(head.head(out[0]))
    cams = fused[:, :K, K:].reshape(2, K, 3, 2) * coarse
    ref = torch.einsum('bij,bkj->bki', fused[:, K:, K:], cams.flatten(2)).reshape(2, K, 3, 2)
    assert torch.allclose(fine, ref, atol=1e-6)
    assert torch.allclose(logits, ref.mean((2, 3)), atol=1e-6)


def test_only_conv_and_aaf_get_gradients():
    torch.manual_seed(0)
    bb = _tiny_backbone()
    head = WeakTrHead(num_classes=3, in_channels=192, num_heads=3, num_blocks=2)
    head(bb(torch.randn(1, 3, 32, 32)))[1].sum().backward()
    assert head.head.weight.grad is not None
    assert head.adaptive_attention_fusion.attn_head_ffn[0].weight.grad is not None
    assert all(p.grad is None for p in bb.parameters())
    frozen = WeakTrHead(num_classes=3, in_channels=192, num_heads=3, num_blocks=2, frozen=True)
    frozen.train()
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())


def test_cam_fn_crops_partial_patches():
    from mmwsss.models.segmentors.branch import WSSSBranch
    branch = WSSSBranch(
        backbone=dict(
            type='AttnOutTokenViT',
            vit=dict(type='timm', model_name='vit_tiny_patch16_224', depth=2),
            class_tokens=dict(num=3),
            out_norm=False,
            extra_tokens={},
            with_cls_token=False,
            attn_blocks=(0, 1)),
        cam_heads=dict(
            weaktr=dict(
                type='WeakTrHead', num_classes=3, in_channels=192, num_heads=3, num_blocks=2)))
    cams = branch.cam_fn('weaktr')(torch.randn(1, 3, 38, 45))  # 2 x 2 whole patches
    assert cams.shape == (1, 3, 2, 2)


def test_weaktr_converter_keys_and_coco_slice():
    conv = _converter()
    COCO90_UNUSED, convert = conv.COCO90_UNUSED, conv.convert
    state = {
        'cls_token': torch.arange(90.).view(1, 90, 1),
        'pos_embed': torch.arange(90. + 4).view(1, 94, 1),
        'blocks.0.attn.qkv.weight': torch.zeros(3, 1),
        'head.weight': torch.arange(90.).view(90, 1, 1, 1),
        'head.bias': torch.arange(90.),
        'adaptive_attention_fusion.attn_head_ffn.0.weight': torch.zeros(9, 72),
    }
    out = convert(state, coco90_to_80=True)
    assert out['backbone.vit.cls_token'].shape == (1, 80, 1)
    assert 11 not in out['backbone.vit.cls_token'].flatten().tolist()  # 'street sign' slot
    assert out['backbone.vit.pos_embed'].flatten().tolist()[-4:] == [90., 91., 92., 93.]
    assert out['cam_head.head.bias'].tolist() == [i for i in range(90) if i not in COCO90_UNUSED]
    assert 'cam_head.adaptive_attention_fusion.attn_head_ffn.0.weight' in out
    assert 'backbone.vit.blocks.0.attn.qkv.weight' in out


def test_converted_weaktr_layout_loads_strictly():
    """A WeakTr-layout state dict (timm block names, C class tokens, conv ``head``, AAF)
    converted by the tool loads into AttnOutTokenViT + WeakTrHead with no key left over."""
    bb = _tiny_backbone(classes=3)
    head = WeakTrHead(num_classes=3, in_channels=192, num_heads=3, num_blocks=2)
    official = {k[len('vit.'):]: v.clone() for k, v in bb.state_dict().items()}
    official.update({k: v.clone() for k, v in head.state_dict().items()})
    converted = _converter().convert(official)
    fresh_bb, fresh_head = _tiny_backbone(classes=3), WeakTrHead(
        num_classes=3, in_channels=192, num_heads=3, num_blocks=2)
    fresh_bb.load_state_dict(
        {
            k[len('backbone.'):]: v
            for k, v in converted.items() if k.startswith('backbone.')
        },
        strict=True)
    fresh_head.load_state_dict(
        {
            k[len('cam_head.'):]: v
            for k, v in converted.items() if k.startswith('cam_head.')
        },
        strict=True)
    x = torch.randn(1, 3, 32, 32)
    assert torch.allclose(fresh_head(fresh_bb(x))[1], head(bb(x))[1])
