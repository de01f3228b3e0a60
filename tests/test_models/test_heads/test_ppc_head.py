"""PPC's head: PCMCAMHead's maps unchanged, the projection shares fc8's dropout mask."""
import pytest
import torch

from mmwsss.models.heads import PCMCAMHead, PPCCAMHead


def _feats(n=2, h=5, w=7):
    torch.manual_seed(0)
    # conv4 / conv5 / conv6 stand-ins on a 5 x 7 grid of a 37 x 53 input (not a multiple)
    return [
        torch.randn(n, 4, h, w),
        torch.randn(n, 6, h, w),
        torch.randn(n, 8, h, w),
        torch.randn(n, 3, 37, 53)
    ]


def _heads():
    kw = dict(
        in_channels=8,
        pcm_in_channels=(4, 6),
        pcm_channels=(2, 3),
        num_classes=5,
        cam_index=2,
        pcm_indices=(0, 1),
        img_index=-1)
    torch.manual_seed(1)
    ppc = PPCCAMHead(proj_channels=3, **kw)
    pcm = PCMCAMHead(**kw)
    pcm.load_state_dict({k: v for k, v in ppc.state_dict().items() if 'fc_proj' not in k})
    return ppc, pcm


def test_maps_equal_pcm_head_and_extra_outputs():
    ppc, pcm = _heads()
    ppc.eval(), pcm.eval()
    feats = _feats()
    a, b = ppc.forward_parts(feats), pcm.forward_parts(feats)
    for key in ('cam', 'cam_rv', 'logits', 'cam_lowres'):
        assert torch.allclose(a[key], b[key], atol=1e-6), key
    assert a['proj'].shape == (2, 3, 5, 7) and (a['proj'] >= 0).all()  # ReLU
    assert a['cam_rv_lowres'].shape == (2, 6, 5, 7)
    # cam_rv is cam_rv_lowres upsampled (bilinear, align_corners=True)
    up = torch.nn.functional.interpolate(
        a['cam_rv_lowres'], (37, 53), mode='bilinear', align_corners=True)
    assert torch.allclose(up, a['cam_rv'], atol=1e-6)
    exp = torch.relu(torch.einsum('od,ndhw->nohw', ppc.fc_proj.weight[:, :, 0, 0], feats[2]))
    assert torch.allclose(a['proj'], exp, atol=1e-5)
    logits, cams = ppc(feats)  # inference: PCMCAMHead's (logits, cam_rv fg)
    assert torch.equal(cams, a['cam_rv'][:, 1:])


def test_one_dropout_mask_for_fc8_and_fc_proj():
    ppc, _ = _heads()
    ppc.train()
    calls = []
    ppc.dropout.register_forward_hook(lambda m, i, o: calls.append(o))
    out = ppc.forward_parts(_feats())
    assert len(calls) == 1
    dropped = calls[0]
    exp = torch.relu(torch.einsum('od,ndhw->nohw', ppc.fc_proj.weight[:, :, 0, 0], dropped))
    assert torch.allclose(out['proj'], exp, atol=1e-5)
    cam = torch.einsum('od,ndhw->nohw', ppc.fc8.weight[:, :, 0, 0], dropped)
    assert torch.allclose(out['cam_lowres'], cam, atol=1e-5)


def test_rejects_prcm():
    with pytest.raises(ValueError, match='prcm'):
        PPCCAMHead(with_prcm=True)
