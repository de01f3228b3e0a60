"""The full-size BCSS-WSSS PBIP model (MiT-B1, 512-d prototypes, Swin-T MedCLIP-shaped
encoder, random weights) trains one step and predicts on two REAL IHC patches."""
import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample
from mmwsss.utils import register_all_modules

CFG = 'configs/pbip/pbip_mit-b1_1xb10-8e_bcss-wsss-224x224.py'


def _patches(side=64):
    from skimage import data as skdata
    photo = skdata.immunohistochemistry()
    crops = [photo[40:40 + side, 60:60 + side], photo[200:200 + side, 300:300 + side]]
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    mean = torch.tensor([0.668, 0.478, 0.706]).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.174, 0.226, 0.198]).view(1, 3, 1, 1) * 255
    return (x - mean) / std


def _build():
    register_all_modules(init_default_scope=False)
    init_default_scope('mmwsss')
    cfg = Config.fromfile(CFG)
    m = cfg.model
    m.backbone.pop('init_cfg')
    for h in m.cam_heads.values():
        h.checkpoint = None  # random unit prototypes
    m.loss_terms[3].encoder.checkpoint = None  # MedCLIP-shaped, random
    m.data_preprocessor.size = None
    return MODELS.build(m)


def test_full_model_step_and_predict():
    torch.manual_seed(0)
    model = _build()
    assert model.branches['net'].cam_heads['cam4'].prototypes().shape == (12, 512)
    x = _patches()
    samples = []
    for lab in ([1., 0., 1., 0.], [0., 1., 1., 1.]):
        s = WSSSDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
        s.gt_img_label = torch.tensor(lab)
        samples.append(s)
    model.train()
    losses = model.loss(x, samples)
    for key in ('cls2.loss_cls', 'cls3.loss_cls', 'cls4.loss_cls', 'match.loss_fg', 'match.loss_bg',
                'match.loss_cam'):
        assert torch.isfinite(losses[key]), key
    # the matching losses alone reach the backbone, through cam4 and the frozen encoder
    match = losses['match.loss_fg'] + losses['match.loss_bg']
    match.backward(retain_graph=True)
    stage4 = [p for n, p in model.branches['net'].backbone.named_parameters() if 'layers.3' in n]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage4)
    model.zero_grad()
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    enc = model.loss_terms[3].encoder
    assert all(p.grad is None for p in enc.parameters())  # frozen
    assert not enc.training
    head4 = model.branches['net'].cam_heads['cam4']
    assert head4.scale.grad is not None
    model.eval()
    out = model.predict(x, samples)
    pred = out[0].pred_sem_seg.data
    assert pred.shape == (1, 64, 64)
    # never background; only labelled classes (TUM = 1, LYM = 3) or, where every labelled
    # map is 0, the first class
    assert set(pred.unique().tolist()) <= {1, 2, 3, 4} and pred.min() >= 1
    assert out[0].cams.data.shape == (4, 64, 64)
    assert out[0].cams.data[[1, 3]].abs().max() == 0  # STR, NEC absent from image 0
