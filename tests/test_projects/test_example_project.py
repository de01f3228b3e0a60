import math
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_example_project_pooling_and_config():
    sys.path.insert(0, REPO)
    try:
        from projects.example_project.dummy import DummyGeMPool  # noqa: F401 (registers)
    finally:
        sys.path.remove(REPO)
    init_default_scope('mmwsss')
    from mmwsss.models.heads import CAMHead
    head = CAMHead(in_channels=2, num_classes=1, pool=dict(type='DummyGeMPool', p=2.0))
    with torch.no_grad():
        head.conv_seg.weight.copy_(torch.tensor([2., 1.]).view(1, 2, 1, 1))
    feat = torch.tensor([[[[1., 3.]], [[2., 0.]]]])  # cam = [2+2, 6+0] = [4, 6]
    logits, cams = head([feat])
    assert cams.flatten().tolist() == [4.0, 6.0]
    expected = math.sqrt((4**2 + 6**2) / 2)  # = sqrt(26) = 5.0990
    assert logits.item() == __import__('pytest').approx(expected, rel=1e-5)
    cfg = Config.fromfile(
        osp.join(
            REPO, 'projects/example_project/configs/'
            'cam-gem_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'))
    assert cfg.model.decode_head.pool.type == 'DummyGeMPool'
    assert cfg.custom_imports.imports == ['projects.example_project.dummy']
