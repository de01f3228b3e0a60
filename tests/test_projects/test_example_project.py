import math
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_example_project_head_and_config():
    sys.path.insert(0, REPO)
    try:
        from projects.example_project.dummy import DummyLSEPoolCAMHead
    finally:
        sys.path.remove(REPO)
    init_default_scope('mmwsss')
    head = DummyLSEPoolCAMHead(r=1.0, in_channels=2, num_classes=1)
    with torch.no_grad():
        head.conv_seg.weight.copy_(torch.tensor([2., 1.]).view(1, 2, 1, 1))
    feat = torch.tensor([[[[1., 3.]], [[2., 0.]]]])  # cam = [4, 6]
    expected = math.log((math.exp(4) + math.exp(6)) / 2)  # = 5.4338
    assert head([feat]).item() == __import__('pytest').approx(expected, rel=1e-5)
    cfg = Config.fromfile(osp.join(
        REPO, 'projects/example_project/configs/'
        'cam-lse_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'))
    assert cfg.model.decode_head.type == 'DummyLSEPoolCAMHead'
    assert cfg.custom_imports.imports == ['projects.example_project.dummy']
