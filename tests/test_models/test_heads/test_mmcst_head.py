"""MMCST / MCTformer maps (mmwsss/models/heads/mmcst_head.py) on toy attention, by hand."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope

from mmwsss.models.heads import MMCSTHead, MMCSTTokenHead
from mmwsss.models.heads.mmcst_head import (affinity_refine, class_to_patch_attention,
                                            class_token_scores, last_blocks, patch_affinity)
from mmwsss.structures.backbone_output import BackboneOutput


def toy_attention():
    """K = 2 class tokens, grid (1, 2): N = 4; two heads, two blocks (3 and 7).

    Block 3, head-mean rows: class 0 -> [.1, .1, .2, .6], class 1 -> [.1, .1, .7, .1].
    Block 7, head-mean rows: class 0 -> [.2, .2, .1, .5], class 1 -> [.0, .0, .5, .5].
    The heads differ (their mean is the row above) so the head average is exercised.
    """

    def block(r0, r1, patch_rows):
        mean = torch.tensor([r0, r1] + patch_rows)  # (4, 4)
        delta = torch.zeros(4, 4)
        delta[:, 0], delta[:, 1] = 0.05, -0.05  # head 0 +delta, head 1 -delta
        return torch.stack([mean + delta, mean - delta])[None]  # (1, 2, 4, 4)

    patches3 = [[.25, .25, .25, .25], [.0, .0, .5, .5]]
    patches7 = [[.1, .1, .4, .4], [.1, .1, .2, .6]]
    return {
        3: block([.1, .1, .2, .6], [.1, .1, .7, .1], patches3),
        7: block([.2, .2, .1, .5], [.0, .0, .5, .5], patches7),
    }


def test_class_to_patch_attention_rows_and_blocks():
    attns = toy_attention()
    both = class_to_patch_attention(last_blocks(attns, None), (0, 2), 2, (1, 2))
    # sum over blocks of the head-mean rows, patch columns 2, 3
    assert torch.allclose(both[0, 0, 0], torch.tensor([.2 + .1, .6 + .5]))
    assert torch.allclose(both[0, 1, 0], torch.tensor([.7 + .5, .1 + .5]))
    last = class_to_patch_attention(last_blocks(attns, 1), (1, 2), 2, (1, 2))
    assert last.shape == (1, 1, 1, 2)
    assert torch.allclose(last[0, 0, 0], torch.tensor([.5, .5]))
    with pytest.raises(ValueError):
        last_blocks(attns, 3)
    with pytest.raises(KeyError):
        last_blocks({}, None)


def test_affinity_refine_three_patches():
    # one class on a (1, 3) grid: m = [1, 0, 2]
    m = torch.tensor([1., 0., 2.]).view(1, 1, 1, 3)
    A = torch.tensor([[[.5, .5, 0.], [0., 1., 0.], [.2, .3, .5]]])
    out = affinity_refine(m, A)
    # m'_i = sum_j A_ij m_j: [.5*1, 1*0, .2*1 + .5*2]
    assert torch.allclose(out.view(3), torch.tensor([.5, 0., 1.2]))
    # the affinity itself: K = 1 prefix token, head mean, summed over blocks
    a = torch.zeros(1, 2, 4, 4)
    a[0, 0, 1:, 1:] = A[0] * 2
    a[0, 1, 1:, 1:] = 0
    aff = patch_affinity([a, a], 1)
    assert torch.allclose(aff, 2 * A)


def output(cls_tokens, attns, grid=(1, 2), D=2):
    B = cls_tokens.shape[0]
    feats = torch.arange(B * D * grid[0] * grid[1], dtype=torch.float).view(B, D, *grid)
    return BackboneOutput([feats], cls_tokens=cls_tokens, attns=attns, grid=grid)


def test_token_head_reads_its_tokens_and_rows():
    init_default_scope('mmwsss')
    # cls token t has every channel equal to t + 1: the score of token t is t + 1
    cls = (torch.arange(2.) + 1)[None, :, None].expand(1, 2, 3)
    head = MMCSTTokenHead(num_classes=1, offset=1, attn_layers=None)
    logits, cams = head(output(cls, toy_attention()))
    assert torch.allclose(logits, torch.tensor([[2.]]))
    assert torch.allclose(cams[0, 0, 0], torch.tensor([.7 + .5, .1 + .5]))
    assert torch.allclose(class_token_scores(torch.tensor([[[1., 2., 6.]]])), torch.tensor([[3.]]))


def test_mmcst_head_fused_map():
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    attns = toy_attention()
    cls = torch.zeros(1, 2, 2)
    out = output(cls, attns)
    # one class, visual token 0 and text token 1 (token_mode 'both' with C = 1)
    head = MMCSTHead(in_channels=2, num_classes=1, text_offset=1, attn_layers=1, refine=False)
    with torch.no_grad():
        head.conv_seg.weight.zero_()
        head.conv_seg.weight[0, 0, 1, 1] = 1.0  # centre tap on channel 0
        head.conv_seg.bias.fill_(-0.5)
    logits, cams = head(out)
    patch = torch.tensor([0. - .5, 1. - .5])  # channel 0 of the feats is [0, 1]
    assert torch.allclose(logits, patch.mean().view(1, 1))
    # block 7 only: visual row [.1, .5] + text row [.5, .5], times relu(patchcam) [0, .5]
    assert torch.allclose(cams[0, 0, 0], torch.tensor([0., 1.0 * .5]))
    # refined by the two blocks' patch affinity (rows of patches 2, 3, patch columns)
    head.refine = True
    _, ref = head(out)
    A = torch.tensor([[.25 + .4, .25 + .4], [.5 + .2, .5 + .6]])
    assert torch.allclose(ref[0, 0, 0], A @ torch.tensor([0., .5]))
    # the other readings
    head.refine, head.cam_type = False, 'attention'
    assert torch.allclose(head(out)[1][0, 0, 0], torch.tensor([.6, 1.0]))
    head.token_maps = 'visual'
    assert torch.allclose(head(out)[1][0, 0, 0], torch.tensor([.1, .5]))
    head.cam_type = 'patchcam'
    assert torch.allclose(head(out)[1][0, 0, 0], F.relu(patch))
    with pytest.raises(ValueError):
        MMCSTHead(in_channels=2, num_classes=1, cam_type='grad')
