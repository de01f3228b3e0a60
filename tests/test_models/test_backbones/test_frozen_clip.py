"""FrozenCLIPBackbone: every block's tokens / attention, equal to open_clip's own forward."""
import pytest
import torch

pytest.importorskip('open_clip')

from mmwsss.models.backbones.frozen_clip import FrozenCLIPBackbone, find_frozen_clip  # noqa
from mmwsss.models.foundation import TINY_CLIP_CFG  # noqa: E402


def _backbone(num_blocks=None):
    torch.manual_seed(0)
    return FrozenCLIPBackbone(dict(type='OpenCLIP', arch=TINY_CLIP_CFG), num_blocks=num_blocks)


def test_reproduces_open_clip_image_features():
    bb = _backbone(num_blocks=3)  # all blocks
    img = torch.randn(2, 3, 64, 64)  # the tiny model's native 64 x 64 (4 x 4 grid)
    out = bb(img)
    clip = bb.clip.clip
    with torch.no_grad():
        ref = clip.encode_image(img)  # open_clip's forward: CLS pooling, ln_post, proj
        # our tokens of the last block: CLS token + patch maps
        ours = clip.visual.ln_post(out.cls_tokens[:, 0]) @ clip.visual.proj
        # and the same from the intermediate blocks of open_clip itself
        inter = clip.visual.forward_intermediates(
            img, indices=3, output_fmt='NCHW', intermediates_only=True)['image_intermediates']
    assert torch.allclose(ours, ref, atol=1e-5)
    for mine, theirs in zip(out, inter):
        assert torch.allclose(mine, theirs, atol=1e-5)


def test_default_runs_all_but_the_last_block_and_attention_rows_sum_to_1():
    bb = _backbone()
    img = torch.randn(1, 3, 50, 80)  # 3 x 5 grid (the patch conv truncates)
    out = bb(img)
    assert len(out) == 2 and out.grid == (3, 5)
    assert out[0].shape == (1, 64, 3, 5) and out.cls_tokens.shape == (1, 1, 64)
    assert sorted(out.attns) == [0, 1] and out.attns[0].shape == (1, 1, 16, 16)
    assert torch.allclose(out.attns[1].sum(-1), torch.ones(1, 1, 16), atol=1e-5)
    # the last block run on (cls, patches of block 1) gives open_clip's image feature
    clip = bb.clip.clip
    tokens = torch.cat([out.cls_tokens, out[-1].flatten(2).transpose(1, 2)], 1)
    x, _ = bb.clip.block_forward(clip.visual.transformer.resblocks[-1], tokens)
    full = _backbone(num_blocks=3)(img)
    assert torch.allclose(x[:, 0], full.cls_tokens[:, 0], atol=1e-5)
    assert not any(p.requires_grad for p in bb.parameters())


def test_find_frozen_clip_through_renormalize():
    from mmwsss.models.backbones import Renormalize
    wrapped = Renormalize(
        dict(type='FrozenCLIPBackbone', clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG)),
        src_mean=[0, 0, 0],
        src_std=[1, 1, 1],
        mean=[0, 0, 0],
        std=[1, 1, 1])
    assert isinstance(find_frozen_clip(wrapped), FrozenCLIPBackbone)
    with pytest.raises(TypeError):
        find_frozen_clip(torch.nn.Linear(1, 1))
