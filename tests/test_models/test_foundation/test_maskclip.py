"""MaskCLIP dense features on OpenCLIP: value path of the last block, position resize."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.foundation import TINY_CLIP_CFG, OpenCLIP
from mmwsss.models.foundation.maskclip import interpolated_pos_embed, maskclip_features, value_path


@pytest.fixture(scope='module')
def clip():
    torch.manual_seed(0)
    return OpenCLIP(TINY_CLIP_CFG)


def test_value_path_is_attention_replaced_by_identity(clip):
    # an attention map equal to the identity makes MHA output out_proj(v)
    block = clip.clip.visual.transformer.resblocks[-1]
    x = torch.randn(2, 7, 64)
    y = block.ln_1(x)
    heads = block.attn.num_heads
    q, k, v = F.linear(y, block.attn.in_proj_weight, block.attn.in_proj_bias).chunk(3, -1)
    v = v.view(2, 7, heads, -1).transpose(1, 2)
    eye = torch.eye(7).expand(2, heads, 7, 7)
    attn_out = (eye @ v).transpose(1, 2).reshape(2, 7, 64)
    z = x + block.attn.out_proj(attn_out)
    z = z + block.mlp(block.ln_2(z))
    torch.testing.assert_close(value_path(block, x), z, rtol=1e-5, atol=1e-5)


def test_features_shape_norm_and_manual_forward(clip):
    img = torch.randn(2, 3, 50, 70)  # 3x4 grid, remainders dropped by the stride-16 conv
    out = maskclip_features(clip, img, 'bilinear')
    assert out.shape == (2, 32, 3, 4)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2, 3, 4))
    tokens = clip.forward_tokens(img, num_blocks=clip.num_layers - 1)['tokens']
    x = value_path(clip.clip.visual.transformer.resblocks[-1], tokens)
    expect = clip.patch_embeddings(x, (3, 4))  # ln_post + proj + normalise per patch
    torch.testing.assert_close(out, expect, rtol=1e-5, atol=1e-5)
    # tokens do not mix in the value path: changing token 5 changes row 5 only
    x2 = tokens.clone()
    x2[:, 5] += 1.0
    block = clip.clip.visual.transformer.resblocks[-1]
    diff = (value_path(block, x2) - value_path(block, tokens)).abs().sum(-1)
    assert (diff[:, 5] > 0).all() and diff[:, :5].max() == 0 and diff[:, 6:].max() == 0
    raw = maskclip_features(clip, img, normalize=False)
    assert not torch.allclose(raw.norm(dim=1), torch.ones(2, 3, 4))


def test_bicubic_position_resize(clip):
    pos = clip.clip.visual.positional_embedding
    same = interpolated_pos_embed(clip, (4, 4), 'bicubic')  # the 64 px training grid
    assert torch.equal(same, pos)
    out = interpolated_pos_embed(clip, (3, 5), 'bicubic')
    patch = pos[1:].reshape(1, 4, 4, -1).permute(0, 3, 1, 2)
    expect = F.interpolate(patch, size=(3, 5), mode='bicubic', align_corners=False)
    torch.testing.assert_close(out[1:], expect.permute(0, 2, 3, 1).reshape(15, -1))
    assert torch.equal(out[0], pos[0])
    assert not torch.allclose(out, clip.pos_embed((3, 5)))  # bilinear differs
    with pytest.raises(ValueError, match='pos_interp'):
        interpolated_pos_embed(clip, (3, 5), 'nearest')
