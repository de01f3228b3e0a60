"""MuP-VSS's terms in the chassis: shared parts, the CIP bank, the P2P label."""
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.segmentors import SingleStageWSSS
from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, demo_wsss_inputs, tiny_backbone_cfg


def tiny_model(cip_keys='bank'):
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    bank = dict(num_classes=3, dim=8, momentum=0.5) if cip_keys != 'batch' else None
    model = MODELS.build(
        dict(
            type='SingleStageWSSS',
            data_preprocessor=dict(
                type='mmseg.SegDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.]),
            backbone=tiny_backbone_cfg(),
            cam_heads=dict(
                cam=dict(
                    type='MuPVSSHead',
                    in_channels=TINY_CHANNELS[-1],
                    num_classes=3,
                    embed_dim=8,
                    num_heads=2,
                    dropout_ratio=0.5)),
            label_sources=dict(
                p2p=dict(
                    type='CAMLabelSource',
                    cam='cam',
                    size='cam',
                    bg_thr=0.25,
                    ignore_band=(0.25, 0.7))),
            loss_terms=[
                dict(type='ClsTerm', name='cls', cam='cam'),
                dict(type='MuPVSSCCPTerm', name='ccp', cam='cam'),
                dict(type='MuPVSSCIPTerm', name='cip', cam='cam', keys=cip_keys, bank=bank),
                dict(type='MuPVSSP2PTerm', name='p2p', cam='cam', label='p2p'),
            ]))
    model.init_weights()
    return model


def run(model, labels, seed=0):
    inputs, samples = demo_wsss_inputs(batch=len(labels), num_classes=3, size=(40, 56), seed=seed)
    for s, lab in zip(samples, labels):
        s.gt_img_label = torch.tensor(lab, dtype=torch.float)
        s.set_metainfo(dict(img_labels=[i for i, v in enumerate(lab) if v]))
    return model.loss(inputs / 255., samples)


def test_terms_share_one_forward_and_bank_fills():
    model = tiny_model()
    assert isinstance(model, SingleStageWSSS)
    model.train()
    cip = model.loss_terms[2]
    losses = run(model, [[1, 0, 1], [0, 1, 0]])
    for key in ('cls.loss_cls', 'ccp.loss_ccp', 'cip.loss_cip', 'p2p.loss_p2p'):
        assert key in losses and torch.isfinite(losses[key]), key
    # first step: the bank was empty, so CIP had no key; then it took the present classes
    assert losses['cip.loss_cip'].item() == 0.0
    assert cip.bank.valid[:, 0].tolist() == [True, True, True]
    losses = run(model, [[1, 0, 0], [1, 1, 0]])
    assert losses['cip.loss_cip'].item() > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    head = model.branches['net'].cam_heads['cam']
    assert head.global_tokens.grad is not None and head.global_tokens.grad.abs().sum() > 0
    assert 'protos' in str(cip.state_dict().keys())  # the bank is checkpointed


def test_cip_batch_keys_need_another_image_with_the_class():
    model = tiny_model('batch').train()
    assert model.loss_terms[2].bank is None
    # no class shared by two images: no positive
    assert run(model, [[1, 0, 0], [0, 1, 0]])['cip.loss_cip'].item() == 0.0
    assert run(model, [[1, 0, 0], [1, 1, 0]])['cip.loss_cip'].item() > 0
