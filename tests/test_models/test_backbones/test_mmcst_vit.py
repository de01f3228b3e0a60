"""MMCSTViT: the K = 2C multi-modal class tokens are placed, and read back, in order."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.backbones import MMCSTViT
from mmwsss.models.backbones.mmcst_vit import class_token_rows
from mmwsss.models.foundation import TINY_CLIP_CFG

pytest.importorskip('timm')
pytest.importorskip('open_clip')

C, D = 3, 32
NAMES = ['cat', 'dog', 'car']


def build(**kw) -> MMCSTViT:
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    cfg = dict(
        vit=dict(
            type='timm',
            model_name='vit_tiny_patch16_224',
            depth=2,
            embed_dim=D,
            num_heads=2,
            img_size=64),
        num_classes=C,
        class_names=NAMES,
        clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG, checkpoint=None),
        clip_size=64,
        out_norm=False,
        attn_blocks=(0, 1))
    cfg.update(kw)
    return MMCSTViT(**cfg).eval()


def block0_input(m: MMCSTViT, img: torch.Tensor) -> torch.Tensor:
    seen = {}
    h = m.vit.blocks[0].register_forward_pre_hook(lambda mod, args: seen.update(x=args[0]))
    try:
        out = m(img)
    finally:
        h.remove()
    return seen['x'], out


def test_rows_visual_then_text_with_their_position_rows():
    m = build()
    img = torch.randn(2, 3, 32, 48)
    x, out = block0_input(m, img)
    pos = m.vit.pos_embed[0, :2 * C]  # the class position rows
    K = 2 * C
    assert m.num_prefix_tokens == K and out.cls_tokens.shape == (2, K, D)
    # contexts are zero-initialised: visual rows = visual tokens, text rows = W t + b
    vis = m.vit.cls_token[0, :C]
    txt = m.text_proj(m.text_embeds)
    assert torch.allclose(x[:, :C], (vis + pos[:C]).expand(2, -1, -1), atol=1e-6)
    assert torch.allclose(x[:, C:K], (txt + pos[C:K]).expand(2, -1, -1), atol=1e-6)
    # the attention maps keep the K class tokens in front of the 2 x 3 patches
    assert out.attns[1].shape == (2, 2, K + 6, K + 6) and out.grid == (2, 3)


def test_contexts_are_sample_specific_and_go_to_their_rows():
    m = build()
    with torch.no_grad():
        m.visual_proj.bias.fill_(1.0)  # visual context: +1 on every visual row
        m.language_proj.weight.copy_(torch.eye(m.language_proj.weight.shape[0]))
    img = torch.randn(2, 3, 32, 32)
    x, _ = block0_input(m, img)
    pos = m.vit.pos_embed[0, :2 * C]
    vis = m.vit.cls_token[0, :C] + pos[:C] + 1.0
    assert torch.allclose(x[:, :C], vis.expand(2, -1, -1), atol=1e-5)
    e = m._clip_image_embedding(img)  # (2, E)
    txt = m.text_proj(m.text_embeds[None] + e[:, None]) + pos[C:]
    assert torch.allclose(x[:, C:2 * C], txt, atol=1e-5)
    assert not torch.allclose(x[0, C:2 * C], x[1, C:2 * C])  # per image


def test_token_rows_modes():
    vis, txt = torch.ones(2, 4), torch.full((2, 4), 2.)
    assert class_token_rows(vis, txt, 'both').shape == (1, 4, 4)
    assert torch.equal(class_token_rows(vis, txt, 'sum')[0], torch.full((2, 4), 3.))
    assert torch.equal(class_token_rows(vis, None, 'visual')[0], vis)
    ctx = torch.tensor([[10., 0, 0, 0], [20., 0, 0, 0]])
    rows = class_token_rows(vis, txt, 'both', ctx)
    assert rows.shape == (2, 4, 4) and rows[1, 0, 0] == 21. and rows[1, 2, 0] == 2.
    with pytest.raises(ValueError):
        class_token_rows(vis, None, 'sum')


def test_sum_mode_and_patch_floor_crop():
    m = build(token_mode='sum', language_context=None)
    assert m.num_prefix_tokens == C and m.clip is None
    x, out = block0_input(m, torch.randn(1, 3, 40, 50))  # floors to 32 x 48
    assert out.grid == (2, 3)
    pos = m.vit.pos_embed[0, :C]
    want = m.vit.cls_token[0] + m.text_proj(m.text_embeds) + pos
    assert torch.allclose(x[0, :C], want, atol=1e-6)


def test_text_rows_of_the_parameter_get_no_gradient():
    m = build().train()
    out = m(torch.randn(1, 3, 32, 32))
    out.cls_tokens.sum().backward()
    g = m.vit.cls_token.grad[0]
    assert g[:C].abs().sum() > 0 and g[C:].abs().sum() == 0
    assert m.text_proj.weight.grad.abs().sum() > 0


def test_missing_clip_checkpoint_names_the_file():
    with pytest.raises(FileNotFoundError, match='no_such_clip.pt'):
        build(clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG, checkpoint='no_such_clip.pt'))
    with pytest.raises(KeyError):
        build(clip=None)
