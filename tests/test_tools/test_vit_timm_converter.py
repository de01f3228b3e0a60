"""tools/model_converters/vit_timm.py: timm ViT weights into both TokenViT wrappers."""
import json

import pytest
import torch

from mmwsss.models.backbones import TokenViT
from mmwsss.testing import load_tool

timm = pytest.importorskip('timm')
converter = load_tool('tools/model_converters/vit_timm.py')

D, HEADS, DEPTH = 64, 4, 3
TIMM_VIT = dict(
    type='timm',
    model_name='vit_tiny_patch16_224',
    depth=DEPTH,
    embed_dim=D,
    num_heads=HEADS,
    img_size=64,
    init_values=0.1)
MMPRETRAIN_VIT = dict(
    type='mmpretrain.VisionTransformer',
    img_size=64,
    patch_size=16,
    layer_scale_init_value=0.1,
    arch=dict(embed_dims=D, num_layers=DEPTH, num_heads=HEADS, feedforward_channels=4 * D))


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    """A random timm ViT (LayerScale, 10-class head) saved as a plain timm state dict."""
    model = timm.create_model(
        'vit_tiny_patch16_224',
        pretrained=False,
        depth=DEPTH,
        embed_dim=D,
        num_heads=HEADS,
        img_size=64,
        init_values=0.1,
        num_classes=10)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * 0.2
            scale = p.dim() == 1 and name.endswith(('weight', 'gamma'))
            p.copy_(noise + 1.0 if scale else noise)
    path = tmp_path_factory.mktemp('src') / 'timm_vit.pth'
    torch.save(model.state_dict(), path)
    return str(path), model.eval()


def _load(vit, ckpt) -> TokenViT:
    model = TokenViT(
        vit,
        out_blocks=(0, -1),
        attn_blocks=(1, ),
        init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def converted(source, tmp_path_factory):
    src, _ = source
    out = tmp_path_factory.mktemp('dst')
    timm_ckpt, mmpre_ckpt = str(out / 'timm.pth'), str(out / 'mmpretrain.pth')
    assert converter.main([src, timm_ckpt, '--vit', json.dumps(TIMM_VIT)]) == 0
    assert converter.main([src, mmpre_ckpt, '--vit', json.dumps(MMPRETRAIN_VIT)]) == 0
    return timm_ckpt, mmpre_ckpt


def test_checkpoint_layout(converted, source):
    src_model = source[1]
    for path, vit in zip(converted, (TIMM_VIT, MMPRETRAIN_VIT)):
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
        assert set(ckpt) == {'state_dict', 'meta'}
        assert set(ckpt['state_dict']) == set(TokenViT(vit, extra_tokens={}).state_dict())
        assert ckpt['meta']['dropped'] == ['head.bias', 'head.weight']
    mmpre = torch.load(converted[1], map_location='cpu', weights_only=True)['state_dict']
    src = src_model.state_dict()
    # spot checks of the timm -> mmpretrain renames
    assert torch.equal(mmpre['vit.patch_embed.projection.weight'], src['patch_embed.proj.weight'])
    assert torch.equal(mmpre['vit.layers.1.ffn.layers.0.0.weight'], src['blocks.1.mlp.fc1.weight'])
    assert torch.equal(mmpre['vit.layers.1.ffn.layers.1.bias'], src['blocks.1.mlp.fc2.bias'])
    assert torch.equal(mmpre['vit.layers.0.attn.gamma1.weight'], src['blocks.0.ls1.gamma'])
    assert torch.equal(mmpre['vit.layers.0.ffn.gamma2.weight'], src['blocks.0.ls2.gamma'])
    assert torch.equal(mmpre['vit.ln1.weight'], src['norm.weight'])


def test_mmpretrain_wrapper_reproduces_timm_features(converted, source):
    timm_model, mmpre_model = (_load(v, c) for v, c in zip((TIMM_VIT, MMPRETRAIN_VIT), converted))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a, b = timm_model(x), mmpre_model(x)
        ref = source[1].forward_features(x)
    # the timm wrapper is the source model itself
    torch.testing.assert_close(
        a[1], ref[:, 1:].transpose(1, 2).reshape(2, D, 4, 4), atol=1e-5, rtol=0)
    for fa, fb in zip(a, b):
        torch.testing.assert_close(fa, fb, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.cls_tokens, b.cls_tokens, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.tokens['aux'], b.tokens['aux'], atol=1e-5, rtol=0)
    torch.testing.assert_close(a.attns[1], b.attns[1], atol=1e-6, rtol=0)
    # a real difference would show: the features are far from zero / each other
    assert a[1].abs().mean() > 0.1 and (a[0] - a[1]).abs().mean() > 0.1
    # off the native grid the two resample the position table differently (timm:
    # antialiased bicubic, PIL's a=-0.5 kernel; mmpretrain: plain bicubic, a=-0.75), so
    # they are close but not equal there
    x = torch.randn(1, 3, 80, 96, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        fa, fb = timm_model(x)[1], mmpre_model(x)[1]
    cos = torch.nn.functional.cosine_similarity(fa.flatten(2), fb.flatten(2), dim=1)
    print(f'off-grid cosine min {cos.min():.6f}, max |diff| {(fa - fb).abs().max():.4f}')
    assert cos.min() > 0.999 and (fa - fb).abs().max() > 1e-4


def test_default_mmpretrain_cfg_is_derived_from_the_weights(source):
    state = source[1].state_dict()
    cfg = converter.default_vit_cfg(state, 'mmpretrain', None, MMPRETRAIN_VIT['arch'], None, None)
    assert cfg['patch_size'] == 16 and cfg['img_size'] == 64
    assert cfg['qkv_bias'] and cfg['final_norm'] and not cfg['pre_norm']
    assert cfg['layer_scale_init_value'] > 0
    converter.convert_timm_vit(state, cfg)  # strict fit


def test_mismatches_are_named(source, tmp_path):
    state = dict(source[1].state_dict())
    state['blocks.0.attn.q_norm.weight'] = torch.ones(16)
    with pytest.raises(KeyError, match=r"blocks\.0\.attn\.q_norm\.weight"):
        converter.timm_to_mmpretrain(state)
    # the timm wrapper with the wrong depth: the missing keys of block 3 are listed
    with pytest.raises(RuntimeError, match=r'missing keys: vit\.blocks\.3\.'):
        converter.convert_timm_vit(source[1].state_dict(), dict(TIMM_VIT, depth=4), 'src.pth')
    with pytest.raises(ValueError, match='JAX .npz checkpoint: pass --model-name'):
        npz = tmp_path / 'x.npz'
        npz.write_bytes(b'')
        converter.load_timm_state_dict(str(npz))
