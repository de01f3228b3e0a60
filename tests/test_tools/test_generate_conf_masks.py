"""tools/generate_pseudo_labels.py with pseudo_label_cfg.extra_maps (BECO's masks)."""
import os
import os.path as osp

import numpy as np
from PIL import Image

from mmwsss.testing import load_tool
from mmwsss.testing.data import make_voc_tiny

CFG = """
default_scope = 'mmwsss'
model = dict(type='CenterPriorCAM', num_classes=20, sigma=0.25, bg_thr=0.5,
             data_preprocessor=dict(type='mmseg.SegDataPreProcessor', mean=[0, 0, 0],
                                    std=[1, 1, 1]))
pseudo_label_dataloader = dict(
    batch_size=1, num_workers=0,
    dataset=dict(type='WSSSVOCDataset', data_root={root!r},
                 ann_file='ImageSets/Segmentation/train.txt', label_file='cls_labels.json',
                 data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                 pipeline=[dict(type='LoadWSSSImageFromFile'),
                           dict(type='PackWSSSInputs')]))
pseudo_label_cfg = dict(refiners=[dict(type='MarginConfidenceMask', bg_thr=0.5)], bg_thr=0.5,
                        extra_maps=dict(conf_mask='conf_mask'))
"""


def test_masks_are_written_next_to_the_labels_and_resumed(tmp_path):
    tool = load_tool('tools/generate_pseudo_labels.py')
    info = make_voc_tiny(str(tmp_path / 'voc'))
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(CFG.format(root=info['data_root']))
    out = str(tmp_path / 'pl')
    assert tool.main([str(cfg), '--out-dir', out])['written'] == 4
    for stem in info['ids']:
        lab = np.array(Image.open(osp.join(out, stem + '.png')))
        mask = np.array(Image.open(osp.join(out, 'conf_mask', stem + '.png')))
        assert mask.shape == lab.shape and set(np.unique(mask)) <= {0, 1}
        # half of each class's pixels (floored) are confident
        for k in np.unique(lab):
            n = int((lab == k).sum())
            assert int(mask[lab == k].sum()) == n // 2, (stem, k)
    # a missing mask makes the image "not done"
    os.remove(osp.join(out, 'conf_mask', info['ids'][1] + '.png'))
    assert tool.main([str(cfg), '--out-dir', out]) == dict(total=4, skipped=3, written=1)
