"""TokenViT(class_tokens=...): MoRe's several class tokens on a timm ViT, checked by hand."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.backbones import TokenViT

timm = pytest.importorskip('timm')

D, HEADS, DEPTH, P = 32, 2, 3, 16
K, DROP = 6, 2  # 6 class tokens, the first 2 regularise tokens


def tiny(**kw) -> dict:
    cfg = dict(
        type='timm',
        model_name='vit_tiny_patch16_224',
        depth=DEPTH,
        embed_dim=D,
        num_heads=HEADS,
        img_size=64)
    cfg.update(kw)
    return cfg


def pretrained_state(seed: int = 0) -> dict:
    """A one-class-token checkpoint with random (non-trivial) weights."""
    src = TokenViT(tiny())
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in src.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if p.dim() == 1 else 0.0))
    return src.state_dict()


def test_class_token_and_pos_embed_layout_without_checkpoint():
    torch.manual_seed(0)
    ref = TokenViT(tiny())
    torch.manual_seed(0)
    m = TokenViT(tiny(), class_tokens=dict(num=K, drop=DROP))
    vit = m.vit
    assert vit.cls_token.shape == (1, K, D) and vit.pos_embed.shape == (1, K + 16, D)
    assert m.num_prefix_tokens == K and m.num_dropped_tokens == DROP
    # the class rows after the dropped ones are the ViT's own class row, patch rows kept
    torch.testing.assert_close(vit.pos_embed[:, DROP:K],
                               ref.vit.pos_embed[:, :1].expand(1, K - DROP, D))
    torch.testing.assert_close(vit.pos_embed[:, K:], ref.vit.pos_embed[:, 1:])
    # MoRe's MATformer init of the class tokens: trunc-normal std 0.02
    assert 0.01 < vit.cls_token.std() < 0.03


def test_one_token_checkpoint_is_expanded_as_more_reload():
    sd = pretrained_state()
    torch.manual_seed(1)
    m = TokenViT(tiny(), class_tokens=dict(num=K, drop=DROP, drop_pos_std=1.0))
    m.load_state_dict(sd)
    vit = m.vit
    # every class token (regularise ones included) a copy of the pretrained class token
    torch.testing.assert_close(vit.cls_token, sd['vit.cls_token'].expand(1, K, D))
    # class rows: the pretrained class row, except the first DROP rows (random, std 1, |x| <= 2)
    cls_row = sd['vit.pos_embed'][:, :1]
    torch.testing.assert_close(vit.pos_embed[:, DROP:K], cls_row.expand(1, K - DROP, D))
    reg = vit.pos_embed[0, :DROP]
    assert reg.abs().max() <= 2.0 and 0.6 < reg.std() < 1.3
    assert (reg - cls_row[0]).abs().min(dim=-1).values.max() > 0
    torch.testing.assert_close(vit.pos_embed[:, K:], sd['vit.pos_embed'][:, 1:])
    # the rest of the checkpoint loaded unchanged
    torch.testing.assert_close(vit.blocks[1].attn.qkv.weight, sd['vit.blocks.1.attn.qkv.weight'])
    # a checkpoint that already has K class tokens (a trained model) loads as it is
    trained = m.state_dict()
    m2 = TokenViT(tiny(), class_tokens=dict(num=K, drop=DROP))
    m2.load_state_dict(trained)
    for k, v in trained.items():
        torch.testing.assert_close(m2.state_dict()[k], v, msg=k)


def test_forward_drops_the_regularise_tokens_and_equals_manual_forward():
    m = TokenViT(tiny(), class_tokens=dict(num=K, drop=DROP), attn_blocks=(1, ))
    m.load_state_dict(pretrained_state())
    m.eval()
    vit = m.vit
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    out = m(x)
    t = F.conv2d(x, vit.patch_embed.proj.weight, vit.patch_embed.proj.bias, stride=P)
    t = torch.cat([vit.cls_token.expand(2, -1, -1), t.flatten(2).transpose(1, 2)], 1)
    t = t + vit.pos_embed
    for blk in vit.blocks:
        t = blk(t)
    t = vit.norm(t)
    assert out.cls_tokens.shape == (2, K - DROP, D)
    torch.testing.assert_close(out.cls_tokens, t[:, DROP:K], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out[0], t[:, K:].transpose(1, 2).reshape(2, D, 4, 4), atol=1e-5, rtol=0)
    # the attention keeps every token: K class tokens + 16 patches
    assert out.attns[1].shape == (2, HEADS, K + 16, K + 16)
    # the regularise tokens matter: their random position rows change the class tokens
    with torch.no_grad():
        vit.pos_embed[:, :DROP] = 0
    assert not torch.allclose(m(x).cls_tokens, out.cls_tokens, atol=1e-4)


def test_dinov2_grid_resampling_keeps_all_class_rows():
    # timm's DINOv2 (patch 14, native 4x4 here) off its native grid: timm's own forward
    cfg = dict(
        type='timm',
        model_name='vit_small_patch14_dinov2',
        depth=DEPTH,
        embed_dim=D,
        num_heads=HEADS,
        img_size=56)
    m = TokenViT(cfg, class_tokens=dict(num=K, drop=DROP)).eval()
    x = torch.randn(1, 3, 42, 70, generator=torch.Generator().manual_seed(3))
    out = m(x)
    ref = m.vit.forward_features(x)
    assert ref.shape[1] == K + 3 * 5
    torch.testing.assert_close(out.cls_tokens, ref[:, DROP:K], atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out[0], ref[:, K:].transpose(1, 2).reshape(1, D, 3, 5), atol=1e-5, rtol=0)


def test_bad_class_token_configs():
    with pytest.raises(ValueError, match='0 <= drop < num'):
        TokenViT(tiny(), class_tokens=dict(num=4, drop=4))
    with pytest.raises(KeyError, match='class_tokens must be dict'):
        TokenViT(tiny(), class_tokens=dict(num=4, regularise=1))
    with pytest.raises(ValueError, match='no_embed_class=False'):
        TokenViT(tiny(no_embed_class=True), class_tokens=dict(num=4))
    mm = dict(
        type='mmpretrain.VisionTransformer',
        img_size=64,
        patch_size=P,
        arch=dict(embed_dims=D, num_layers=DEPTH, num_heads=HEADS, feedforward_channels=4 * D))
    with pytest.raises(NotImplementedError, match='timm'):
        TokenViT(mm, class_tokens=dict(num=4))
