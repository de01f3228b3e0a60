"""WeCLIP's RFM (layer selection, attention), its onset counter and the label source."""
import numpy as np
import pytest
import torch
from PIL import Image

from mmwsss.models.label_sources.weclip_rfm import (labels_from_mask, rfm_attention,
                                                    rfm_iteration_count, rfm_layer_mask)

# decoder affinity R (sum 2) and three toy CLIP maps:
R = torch.full((2, 2), 0.5)
A1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # sum 2.0: signed d = 0,   |d| = 2.0
A2 = torch.full((2, 2), 0.2)  # sum 0.8:                    signed d = 1.2, |d| = 1.2
A3 = torch.tensor([[0.4, 0.35], [0.35, 0.4]])  # sum 1.5:   signed d = 0.5, |d| = 0.5
ATTNS = torch.stack([A1, A2, A3])


def test_rfm_layer_selection_signed():
    # mean(0, 1.2, 0.5) = 0.5667: keep A1 (0) and A3 (0.5), drop A2 (1.2)
    assert rfm_layer_mask(ATTNS, R).tolist() == [True, False, True]


def test_rfm_layer_selection_abs_variant():
    # mean(2.0, 1.2, 0.5) = 1.2333: keep A2 and A3, drop A1
    assert rfm_layer_mask(ATTNS, R, 'abs').tolist() == [False, True, True]


def test_rfm_attention_by_hand():
    out = rfm_attention(ATTNS, R)
    # (A1 + A3) / (2 + 1e-5) * 0.5
    expected = torch.tensor([[0.7, 0.175], [0.175, 0.7]]) * 0.5
    assert torch.allclose(out, expected, atol=1e-5)
    with pytest.raises(ValueError):
        rfm_layer_mask(ATTNS, R, 'l2')


def test_rfm_onset_counter():
    # paper intent: training iterations only; `iter_num > 15000` is 0-based iteration 15000
    assert rfm_iteration_count(14999) == 15000 and rfm_iteration_count(15000) == 15001
    # official: 1464 val forwards after every 2000 iterations -> on from iteration 9144
    val = dict(interval=2000, num_images=1464)
    assert rfm_iteration_count(9143, val) == 9144 + 4 * 1464 == 15000
    assert rfm_iteration_count(9144, val) == 15001
    assert rfm_iteration_count(1999, val) == 2000 and rfm_iteration_count(2000, val) == 3465


def test_labels_from_mask(tmp_path):
    png = np.zeros((4, 5), np.uint8)
    png[0, 0], png[1, 1], png[2, 2] = 3, 15, 255
    path = str(tmp_path / 'a.png')
    Image.fromarray(png).save(path)
    assert labels_from_mask(path, 20) == [2, 14]
    with pytest.raises(FileNotFoundError):
        labels_from_mask(str(tmp_path / 'b.png'), 20)


def test_label_source_on_a_tiny_clip(tmp_path):
    pytest.importorskip('open_clip')
    import os.path as osp

    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmwsss.registry import MODELS
    from mmwsss.structures import WSSSDataSample
    from mmwsss.testing.tools import REPO_ROOT
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'weclip',
                 'weclip_tiny-clip-random_1xb4-300i_coco-mini-voc-320x320.py'))
    cfg.model.label_sources.seg.rfm_start = 0  # RFM on from iteration 0
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmwsss'):
        model = MODELS.build(cfg.model)
    model.train()
    h, w = 70, 100  # not multiples of 16: grid 4 x 6, crop padded to 320
    x = torch.randint(0, 255, (2, 3, h, w), dtype=torch.uint8)
    samples = []
    for i, cls in enumerate(([3], [0, 14])):
        s = WSSSDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), img_path=f'{i}.jpg'))
        lab = torch.zeros(20)
        lab[cls] = 1
        s.gt_img_label = lab
        samples.append(s)
    data = model.data_preprocessor(dict(inputs=list(x), data_samples=samples), True)
    ctx = model.build_context(data['inputs'], data['data_samples'], data['wsss'])
    label = model.label_sources['seg'](ctx)
    assert label.shape == (2, 320, 320)
    assert set(label[0].unique().tolist()) <= {0, 4}
    assert set(label[1].unique().tolist()) <= {0, 1, 15}
    assert model.branches['net'].decode_head.last_affinity.shape == (2, 400, 400)


def test_cams_without_rfm_equal_clip_es():
    """Before the RFM onset WeCLIP's CAM is CLIP-ES's (Grad-CAM + CAA): same numbers as the
    CLIPES segmentor on the same CLIP and image."""
    pytest.importorskip('open_clip')
    from mmwsss.models.backbones.frozen_clip import FrozenCLIPBackbone
    from mmwsss.models.foundation import TINY_CLIP_CFG
    from mmwsss.models.foundation.clip_es_ops import minmax_scale
    from mmwsss.models.label_sources.weclip_rfm import WeCLIPLabelSource
    from mmwsss.models.segmentors.clip_es import CLIPES
    torch.manual_seed(0)
    bb = FrozenCLIPBackbone(dict(type='OpenCLIP', arch=TINY_CLIP_CFG))
    names, bg = ['cat', 'dog', 'car'], ['sky', 'grass']
    src = WeCLIPLabelSource(names, bg, rfm_start=None)
    ref = CLIPES(dict(type='OpenCLIP', arch=TINY_CLIP_CFG), names, bg, input_resize='torch_bicubic')
    ref.clip = bb.clip
    img = torch.randn(1, 3, 80, 96)  # 5 x 6 grid, no resize needed
    out = bb(img)
    tokens = torch.cat([out.cls_tokens, out[-1].flatten(2).transpose(1, 2)], 1)
    attns = torch.stack([out.attns[k][0, 0] for k in sorted(out.attns)])
    mine = minmax_scale(src.image_cams(bb.clip, tokens, attns, None, [0, 2], out.grid))
    theirs = ref.single_scale_cams(img, [0, 2], out.grid)
    assert torch.allclose(mine, theirs, atol=1e-5)
