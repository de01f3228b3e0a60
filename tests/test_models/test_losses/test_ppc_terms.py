"""SEAMPPCTerm: one head forward per view feeds SEAM's and PPC's losses."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from mmwsss.models.heads import PCMCAMHead, PPCCAMHead
from mmwsss.models.losses.equivariance import seam_losses
from mmwsss.models.losses.pixel_prototype_contrast import ppc_losses
from mmwsss.models.losses.terms import SEAMPPCTerm
from mmwsss.structures import BranchOutput, TrainContext


def _ctx(head, n=2):
    torch.manual_seed(0)
    labels = torch.zeros(n, 5)
    labels[0, 1] = labels[1, [0, 3]] = 1
    ctx = TrainContext(
        inputs=torch.zeros(n, 3, 37, 53),
        img=torch.zeros(n, 3, 37, 53, dtype=torch.uint8),
        img_labels=labels,
        data_samples=[BaseDataElement() for _ in range(n)])
    ctx.extras['cam_heads'] = {'cam': head}
    ctx.branches['net'] = BranchOutput(feats=[
        torch.randn(n, 4, 9, 13),
        torch.randn(n, 6, 9, 13),
        torch.randn(n, 8, 9, 13),
        torch.randn(n, 3, 37, 53)
    ])
    ctx.passes['small'] = BranchOutput(feats=[
        torch.randn(n, 4, 4, 4),
        torch.randn(n, 6, 4, 4),
        torch.randn(n, 8, 4, 4),
        torch.randn(n, 3, 11, 15)
    ])
    return ctx


def _head(cls=PPCCAMHead):
    torch.manual_seed(1)
    return cls(
        in_channels=8,
        pcm_in_channels=(4, 6),
        pcm_channels=(2, 3),
        num_classes=5,
        cam_index=2,
        pcm_indices=(0, 1)).eval()


def test_term_is_seam_plus_ppc_on_the_same_forward():
    head = _head()
    ctx = _ctx(head)
    ppc = dict(size=[8, 8], mining_topk=4, mining_skip=1)  # 6 channels: mine 2nd-4th
    term = SEAMPPCTerm(ppc=ppc, seed=0)
    got = term(ctx)
    assert set(got) == set(SEAMPPCTerm.loss_keys)
    v1 = head.forward_parts(ctx.branches['net'].feats)
    v2 = head.forward_parts(ctx.passes['small'].feats)
    exp = seam_losses(v1['cam'], v1['cam_rv'], v2['cam'], v2['cam_rv'], ctx.img_labels)
    exp.update(
        ppc_losses(
            v1['cam_rv_lowres'],
            v1['proj'],
            v2['cam_rv_lowres'],
            v2['proj'],
            ctx.img_labels,
            size=(8, 8),
            mining_topk=4,
            mining_skip=1,
            generator=torch.Generator().manual_seed(0)))
    for key, value in exp.items():
        assert got[key].item() == pytest.approx(value.item(), rel=1e-5), key
    assert (got['loss_cross'] > 0) and (got['loss_intra'] > 0)
    # loss weights reach the PPC keys too
    half = SEAMPPCTerm(ppc=ppc, seed=0, loss_weights=dict(intra=0.5))(ctx)
    assert half['loss_intra'].item() == pytest.approx(0.5 * got['loss_intra'].item(), rel=1e-5)


def test_term_checks():
    ctx = _ctx(_head(PCMCAMHead))
    with pytest.raises(KeyError, match='PPCCAMHead'):
        SEAMPPCTerm().compute(ctx)
    with pytest.raises(ValueError, match='bg_channel'):
        SEAMPPCTerm(ppc=dict(bg_channel='last'))
    with pytest.raises(ValueError, match='injection'):
        SEAMPPCTerm(ppc=dict(sampler=None))
