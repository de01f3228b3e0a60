"""TokenViT on tiny random ViTs (timm, mmpretrain, open_clip), checked by hand."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from torch import nn

from mmwsss.models.backbones import TokenViT
from mmwsss.registry import MODELS
from mmwsss.structures import BackboneOutput

timm = pytest.importorskip('timm')

D, HEADS, DEPTH, P = 64, 4, 3, 16


def timm_cfg(**kw) -> dict:
    # vit_tiny_patch16_224 shrunk: 3 blocks, 64-d, 4 heads, native 64x64 (4x4 grid)
    cfg = dict(
        type='timm',
        model_name='vit_tiny_patch16_224',
        depth=DEPTH,
        embed_dim=D,
        num_heads=HEADS,
        img_size=64)
    cfg.update(kw)
    return cfg


def mmpretrain_cfg(**kw) -> dict:
    cfg = dict(
        type='mmpretrain.VisionTransformer',
        img_size=64,
        patch_size=P,
        arch=dict(embed_dims=D, num_layers=DEPTH, num_heads=HEADS, feedforward_channels=4 * D))
    cfg.update(kw)
    return cfg


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every weight random (LayerNorm affine too), so a wrong norm or block shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * 0.2
            # 1-d weights are LayerNorm scales / LayerScale gammas: keep them around 1
            p.copy_(noise + 1.0 if p.dim() == 1 and name.endswith(('weight', 'gamma')) else noise)
    model.eval()  # (mmpretrain's train() returns None)
    return model


def img(*shape, seed=1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def to_map(tokens: torch.Tensor, grid, k: int = 1) -> torch.Tensor:
    return tokens[:, k:].transpose(1, 2).reshape(tokens.shape[0], -1, *grid)


def timm_manual_tokens(vit, x):
    """Block outputs of a timm ViT at its native grid, with the embedding done by hand."""
    t = F.conv2d(x, vit.patch_embed.proj.weight, vit.patch_embed.proj.bias, stride=P)
    t = t.flatten(2).transpose(1, 2)
    t = torch.cat([vit.cls_token.expand(len(x), -1, -1), t], 1) + vit.pos_embed
    outs = []
    for blk in vit.blocks:
        t = blk(t)
        outs.append(t)
    return outs


def hand_attention(x_in, norm, qkv_linear, heads):
    """softmax(q k^T / sqrt(d)) written out from a block's input and qkv weights."""
    y = norm(x_in)
    qkv = y @ qkv_linear.weight.T + qkv_linear.bias
    B, N, _ = qkv.shape
    dim = qkv.shape[-1] // 3
    hd = dim // heads
    q = qkv[..., :dim].reshape(B, N, heads, hd).transpose(1, 2)
    k = qkv[..., dim:2 * dim].reshape(B, N, heads, hd).transpose(1, 2)
    return torch.softmax(q @ k.transpose(-1, -2) / hd**0.5, dim=-1)


# ------------------------------------------------------------------- shapes
@pytest.mark.parametrize('cfg', [timm_cfg(), mmpretrain_cfg()], ids=['timm', 'mmpretrain'])
def test_output_layout(cfg):
    init_default_scope('mmwsss')
    model = MODELS.build(dict(type='TokenViT', vit=cfg, out_blocks=(0, -1), attn_blocks=(-1, 1)))
    assert isinstance(model, TokenViT)
    assert (model.embed_dims, model.patch_size, model.num_blocks) == (D, (P, P), DEPTH)
    out = model.eval()(img(2, 3, 64, 64))
    assert isinstance(out, BackboneOutput) and isinstance(out, tuple)
    assert len(out) == 2 and all(f.shape == (2, D, 4, 4) for f in out)
    assert out.cls_tokens.shape == (2, 1, D)
    assert set(out.tokens) == {'aux'} and out.tokens['aux'].shape == (2, D, 4, 4)
    # attention keyed by non-negative block index, 1 + 16 tokens, rows sum to 1
    assert sorted(out.attns) == [1, 2]
    assert out.attns[2].shape == (2, HEADS, 17, 17)
    torch.testing.assert_close(out.attns[2].sum(-1), torch.ones(2, HEADS, 17))
    assert out.grid == (4, 4)
    # ToCo default: aux = block -3 = block 0 of 3, before the final norm, while feats[0]
    # is the same block after it
    assert not torch.allclose(out.tokens['aux'], out[0], atol=1e-2)


# --------------------------------------------------- tokens vs manual forward
def test_timm_pre_and_post_norm_tokens_equal_manual_forward():
    model = TokenViT(timm_cfg(), out_blocks=(-1, 1), attn_blocks=(0, 2))
    vit = randomize(model.vit)
    x = img(2, 3, 64, 64)
    out = model(x)
    blocks = timm_manual_tokens(vit, x)
    atol = 1e-5
    torch.testing.assert_close(out[0], to_map(vit.norm(blocks[2]), (4, 4)), atol=atol, rtol=0)
    torch.testing.assert_close(out[1], to_map(vit.norm(blocks[1]), (4, 4)), atol=atol, rtol=0)
    torch.testing.assert_close(out.cls_tokens, vit.norm(blocks[2])[:, :1], atol=atol, rtol=0)
    # aux (block -3 = 0) is the raw residual stream, not normalised
    torch.testing.assert_close(out.tokens['aux'], to_map(blocks[0], (4, 4)), atol=atol, rtol=0)
    assert (vit.norm(blocks[0]) - blocks[0]).abs().max() > 0.5
    # and the wrapper's last feature equals timm's own forward_features output
    ref = vit.forward_features(x)
    torch.testing.assert_close(out[0], to_map(ref, (4, 4)), atol=atol, rtol=0)


def test_mmpretrain_pre_and_post_norm_tokens_equal_manual_forward():
    model = TokenViT(
        mmpretrain_cfg(),
        out_blocks=(-1, ),
        extra_tokens=dict(aux=dict(block=-3), post1=dict(block=1, norm=True)))
    vit = randomize(model.vit)
    x = img(2, 3, 64, 64)
    out = model(x)
    proj = vit.patch_embed.projection
    t = F.conv2d(x, proj.weight, proj.bias, stride=P).flatten(2).transpose(1, 2)
    t = torch.cat([vit.cls_token.expand(2, -1, -1), t], 1) + vit.pos_embed
    blocks = []
    for layer in vit.layers:
        t = layer(t)
        blocks.append(t)
    atol = 1e-5
    torch.testing.assert_close(out[0], to_map(vit.ln1(blocks[2]), (4, 4)), atol=atol, rtol=0)
    torch.testing.assert_close(out.tokens['aux'], to_map(blocks[0], (4, 4)), atol=atol, rtol=0)
    torch.testing.assert_close(
        out.tokens['post1'], to_map(vit.ln1(blocks[1]), (4, 4)), atol=atol, rtol=0)


def test_out_norm_false_returns_raw_tokens():
    model = TokenViT(timm_cfg(), out_norm=False, extra_tokens={})
    vit = randomize(model.vit)
    x = img(1, 3, 64, 64)
    out = model(x)
    raw = timm_manual_tokens(vit, x)[-1]
    torch.testing.assert_close(out[0], to_map(raw, (4, 4)), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.cls_tokens, raw[:, :1], atol=1e-5, rtol=0)
    assert out.tokens == {}


# --------------------------------------------------------------- attention
def test_timm_attention_equals_hand_computation_and_timm_unfused_path():
    model = TokenViT(timm_cfg(), attn_blocks=(0, 2))
    vit = randomize(model.vit)
    x = img(2, 3, 64, 64)
    out = model(x)
    blocks = timm_manual_tokens(vit, x)
    t0 = torch.cat([
        vit.cls_token.expand(2, -1, -1),
        F.conv2d(x, vit.patch_embed.proj.weight, vit.patch_embed.proj.bias,
                 stride=P).flatten(2).transpose(1, 2)
    ], 1) + vit.pos_embed
    for idx, x_in in ((0, t0), (2, blocks[1])):
        blk = vit.blocks[idx]
        ref = hand_attention(x_in, blk.norm1, blk.attn.qkv, HEADS)
        torch.testing.assert_close(out.attns[idx], ref, atol=1e-6, rtol=0)
    # timm's own (non-fused) attention probabilities, caught at its attn_drop input
    seen = {}
    for idx in (0, 2):
        vit.blocks[idx].attn.fused_attn = False
        vit.blocks[idx].attn.attn_drop.register_forward_hook(
            lambda m, a, o, idx=idx: seen.__setitem__(idx, a[0]))
    vit.forward_features(x)
    for idx in (0, 2):
        torch.testing.assert_close(out.attns[idx], seen[idx], atol=1e-6, rtol=0)
    # the maps are not degenerate: heads differ, rows are far from uniform
    assert (out.attns[2][:, 0] - out.attns[2][:, 1]).abs().max() > 0.05


def test_timm_qk_norm_is_applied_to_attention():
    model = TokenViT(timm_cfg(qk_norm=True), attn_blocks=(1, ))
    vit = randomize(model.vit)
    blk = vit.blocks[1]
    blk.attn.fused_attn = False
    seen = []
    blk.attn.attn_drop.register_forward_hook(lambda m, a, o: seen.append(a[0]))
    out = model(img(1, 3, 64, 64))
    torch.testing.assert_close(out.attns[1], seen[0], atol=1e-6, rtol=0)


def test_mmpretrain_attention_equals_hand_computation():
    model = TokenViT(mmpretrain_cfg(), attn_blocks=(1, ))
    vit = randomize(model.vit)
    x = img(2, 3, 64, 64)
    out = model(x)
    proj = vit.patch_embed.projection
    t = F.conv2d(x, proj.weight, proj.bias, stride=P).flatten(2).transpose(1, 2)
    t = vit.layers[0](torch.cat([vit.cls_token.expand(2, -1, -1), t], 1) + vit.pos_embed)
    layer = vit.layers[1]
    ref = hand_attention(t, layer.ln1, layer.attn.qkv, HEADS)
    torch.testing.assert_close(out.attns[1], ref, atol=1e-6, rtol=0)


# ------------------------------------------------------------ input sizes
@pytest.mark.parametrize('cfg', [timm_cfg(), mmpretrain_cfg()], ids=['timm', 'mmpretrain'])
def test_non_square_non_native_sizes(cfg):
    model = TokenViT(cfg, out_blocks=(0, 1, 2), attn_blocks=(2, )).eval()
    randomize(model.vit)
    out = model(img(2, 3, 48, 80))
    assert out.grid == (3, 5)
    assert [tuple(f.shape) for f in out] == [(2, D, 3, 5)] * 3
    assert out.attns[2].shape == (2, HEADS, 16, 16)
    out = model(img(1, 3, 224, 160))
    assert out.grid == (14, 10) and out[0].shape == (1, D, 14, 10)


def test_timm_resampled_pos_embed_matches_timm_forward():
    # off the native grid the wrapper must still be timm's own forward (pos-embed resampled)
    model = TokenViT(timm_cfg(), out_blocks=(-1, ))
    vit = randomize(model.vit)
    x = img(2, 3, 48, 80)
    torch.testing.assert_close(
        model(x)[0], to_map(vit.forward_features(x), (3, 5)), atol=1e-5, rtol=0)
    # and the position embedding did matter: the native-grid table cannot be added here
    assert vit.pos_embed.shape[1] == 17


def test_size_not_multiple_of_patch_is_a_clear_error():
    model = TokenViT(timm_cfg())
    with pytest.raises(
            ValueError, match=r'50x80 \(HxW\) is not a multiple of the patch '
            r'size 16x16'):
        model(img(1, 3, 50, 80))
    with pytest.raises(ValueError, match='expects a'):
        model(img(3, 64, 64))


# ------------------------------------------------------------------- mmseg
def test_mmseg_decode_heads_and_encoder_decoder_run_on_the_output():
    init_default_scope('mmwsss')
    model = TokenViT(timm_cfg(), out_blocks=(0, 1, 2)).eval()
    out = model(img(2, 3, 48, 80))
    # mmseg parts built the way mmseg builds them (their default loss resolves in mmseg)
    fcn = MODELS.build(
        dict(
            type='FCNHead',
            _scope_='mmseg',
            in_channels=D,
            channels=16,
            num_convs=1,
            concat_input=False,
            num_classes=3,
            in_index=-1)).eval()
    assert fcn(out).shape == (2, 3, 3, 5)
    multi = MODELS.build(
        dict(
            type='FCNHead',
            _scope_='mmseg',
            in_channels=[D] * 3,
            in_index=[0, 1, 2],
            input_transform='resize_concat',
            channels=16,
            num_convs=1,
            concat_input=False,
            num_classes=3)).eval()
    assert multi(out).shape == (2, 3, 3, 5)
    # a whole mmseg segmentor with TokenViT as its backbone
    seg = MODELS.build(
        dict(
            type='EncoderDecoder',
            _scope_='mmseg',
            backbone=dict(type='mmwsss.TokenViT', vit=mmpretrain_cfg(), out_blocks=(-1, )),
            decode_head=dict(
                type='FCNHead',
                in_channels=D,
                channels=16,
                num_convs=1,
                concat_input=False,
                num_classes=3,
                in_index=-1))).eval()
    logits = seg(img(2, 3, 48, 80), mode='tensor')
    assert logits.shape == (2, 3, 3, 5)


# ---------------------------------------------------------------- training
def test_frozen_has_no_grads_and_stays_in_eval():
    model = TokenViT(timm_cfg(drop_rate=0.5, drop_path_rate=0.5), frozen=True)
    assert not any(p.requires_grad for p in model.parameters())
    model.train()
    assert model.training and not model.vit.training
    x = img(1, 3, 64, 64)
    torch.testing.assert_close(model(x)[0], model(x)[0])  # no dropout / drop-path

    trainable = TokenViT(timm_cfg(drop_rate=0.5)).train()
    assert all(p.requires_grad for p in trainable.parameters())
    out = trainable(x)
    (out[0].sum() + out.tokens['aux'].sum() + out.cls_tokens.sum()).backward()
    assert trainable.vit.blocks[0].attn.qkv.weight.grad.abs().sum() > 0


def test_hooks_are_removed_and_deep_copies_are_independent():
    model = TokenViT(timm_cfg(), attn_blocks=(0, ))
    randomize(model.vit)
    teacher = copy.deepcopy(model)
    with torch.no_grad():
        teacher.vit.blocks[2].mlp.fc2.bias.add_(1.0)
    x = img(1, 3, 64, 64)
    a, b = model(x), teacher(x)
    assert not torch.allclose(a[0], b[0])
    for blk in model.vit.blocks:
        assert not blk._forward_hooks and not blk.attn.qkv._forward_hooks
    torch.testing.assert_close(model(x)[0], a[0])


def test_init_cfg_pretrained_loads_the_wrapped_weights(tmp_path):
    src = TokenViT(timm_cfg())
    randomize(src.vit, seed=5)
    ckpt = tmp_path / 'tiny.pth'
    torch.save({'state_dict': src.state_dict()}, ckpt)
    model = TokenViT(timm_cfg(), init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    model.init_weights()
    for k, v in src.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, msg=k)


# -------------------------------------------------------------- bad configs
def test_bad_configs_are_clear_errors():
    with pytest.raises(KeyError, match="unknown vit type 'vit'"):
        TokenViT(dict(type='vit'))
    with pytest.raises(KeyError, match="needs 'model_name'"):
        TokenViT(dict(type='timm'))
    with pytest.raises(ValueError, match=r"vit\['pretrained'\]=True is not supported"):
        TokenViT(timm_cfg(pretrained=True))
    with pytest.raises(IndexError, match=r'out_blocks\[1\]=3 is out of range for a 3-block'):
        TokenViT(timm_cfg(), out_blocks=(0, 3))
    with pytest.raises(IndexError, match=r"extra_tokens\['aux'\]\['block'\]=-4"):
        TokenViT(timm_cfg(), extra_tokens=dict(aux=dict(block=-4)))
    with pytest.raises(KeyError, match=r"extra_tokens\['aux'\] must be dict\(block=int"):
        TokenViT(timm_cfg(), extra_tokens=dict(aux=dict(block=0, layer=1)))
    with pytest.raises(ValueError, match='no class/prefix token'):
        TokenViT(timm_cfg(class_token=False, global_pool='avg'))
    # registers count as prefix tokens
    reg = TokenViT(timm_cfg(reg_tokens=2), attn_blocks=(0, ))
    out = reg(img(1, 3, 48, 64))
    assert out.cls_tokens.shape == (1, 3, D) and out[0].shape == (1, D, 3, 4)
    assert out.attns[0].shape == (1, HEADS, 3 + 12, 3 + 12)


# --------------------------------------------------------------- open_clip
def test_open_clip_tower_matches_openclip_own_blocks():
    pytest.importorskip('open_clip')
    from mmwsss.models.foundation import TINY_CLIP_CFG, OpenCLIP
    torch.manual_seed(0)
    model = TokenViT(
        dict(type='open_clip', arch=TINY_CLIP_CFG),
        out_blocks=(-1, ),
        extra_tokens=dict(aux=dict(block=0)),
        attn_blocks=(0, 2)).eval()
    oc: OpenCLIP = model.vit
    assert (model.embed_dims, model.patch_size, model.num_blocks) == (64, (16, 16), 3)
    # only the image tower trains
    assert all(p.requires_grad == n.startswith('clip.visual.') for n, p in oc.named_parameters())
    x = img(2, 3, 48, 80)
    out = model(x)
    ref = oc.forward_tokens(x)  # OpenCLIP's own loop, head-averaged attention
    visual = oc.clip.visual
    torch.testing.assert_close(
        out[0], to_map(visual.ln_post(ref['tokens']), (3, 5)), atol=1e-5, rtol=0)
    for i in (0, 2):
        torch.testing.assert_close(out.attns[i].mean(1), ref['attns'][i], atol=1e-5, rtol=0)
    assert out.tokens['aux'].shape == (2, 64, 3, 5)
    with pytest.raises(KeyError, match="takes no 'frozen'"):
        TokenViT(dict(type='open_clip', arch=TINY_CLIP_CFG, frozen=True))


def test_hybrid_vit_token_grid_uses_the_stem_stride():
    """ACR's R50+ViT-B/16 hybrid: timm's HybridEmbed has patch (1, 1) on a stride-16 stem."""
    import torch

    from mmwsss.models.backbones import TokenViT
    vit = TokenViT(
        vit=dict(type='timm', model_name='vit_base_r50_s16_384', img_size=64),
        out_blocks=(-1, ),
        with_cls_token=True)
    assert vit.patch_size == (16, 16)
    out = vit(torch.rand(1, 3, 80, 48))
    assert out[0].shape[-2:] == (5, 3)
