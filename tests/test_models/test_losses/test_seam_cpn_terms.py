"""SEAMTerm / CPNTerm wiring: head lookup, pair ratios, loss weights."""
import pytest
import torch
from mmengine.structures import BaseDataElement

from mmwsss.models.losses.terms import CPNTerm, SEAMTerm
from mmwsss.models.losses.terms.seam import weighted
from mmwsss.structures import BranchOutput, TrainContext


def _ctx(metas):
    ctx = TrainContext(
        inputs=torch.zeros(len(metas), 3, 4, 4),
        img=torch.zeros(len(metas), 3, 4, 4, dtype=torch.uint8),
        img_labels=torch.zeros(len(metas), 20),
        data_samples=[BaseDataElement(metainfo=m) for m in metas])
    ctx.extras['cam_heads'] = {}
    return ctx


def test_cpn_ratios_from_metainfo_in_float64():
    term = CPNTerm()
    c, u = term.ratios(_ctx([dict(visible_ratio=0.3), dict(visible_ratio=0.55)]))
    assert c.dtype == torch.float64
    assert torch.equal(c + u, torch.ones(2, dtype=torch.float64))
    assert u[0].item() == 1 - 0.3
    with pytest.raises(KeyError, match='visible_ratio'):
        term.ratios(_ctx([dict()]))


def test_terms_need_a_pcm_head():
    ctx = _ctx([dict()])
    ctx.branches['net'] = BranchOutput(feats=())
    ctx.extras['cam_heads']['cam'] = torch.nn.Identity()
    with pytest.raises(KeyError, match='PCMCAMHead'):
        SEAMTerm().compute(ctx)


def test_loss_weights():
    losses = dict(loss_er=torch.tensor(2.0), loss_ecr=torch.tensor(3.0))
    out = weighted(losses, dict(er=0.5))
    assert out['loss_er'].item() == 1.0 and out['loss_ecr'].item() == 3.0
    with pytest.raises(KeyError, match='unknown loss weights'):
        weighted(losses, dict(tcp=1.0))
