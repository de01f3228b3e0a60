"""configs/_base_/datasets/isaid_custom.py on a fake iSAID layout (mmseg's converter output):
the custom dataset finds the patches, derives the image labels from the masks and the
pseudo-label split loads the masks at the patch's own size."""
import copy
import os.path as osp

import mmcv
import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmwsss.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs', '_base_', 'datasets', 'isaid_custom.py')


def fake_isaid(root):
    rng = np.random.default_rng(0)
    masks = {
        'P0001_0_896_0_896': np.zeros((40, 56), np.uint8),  # background only
        'P0002_0_896_0_896': np.zeros((40, 56), np.uint8),
    }
    masks['P0002_0_896_0_896'][:10, :10] = 1  # ship
    masks['P0002_0_896_0_896'][20:, 30:] = 15  # harbor
    masks['P0002_0_896_0_896'][0, -1] = 255  # ignore: no label
    for split in ('train', 'val'):
        for name, mask in masks.items():
            img = rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)
            mmcv.imwrite(img, osp.join(root, 'img_dir', split, name + '.png'))
            mmcv.imwrite(mask, osp.join(root, 'ann_dir', split, name + '_instance_color_RGB.png'))


def test_isaid_custom_config_derives_labels_from_masks(tmp_path):
    init_default_scope('mmwsss')
    fake_isaid(str(tmp_path))
    cfg = Config.fromfile(CFG)
    assert cfg.num_classes == 16 and len(cfg.class_names) == 15
    assert cfg.class_names[0] == 'ship' and cfg.class_names[-1] == 'harbor'
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.data_root = str(tmp_path)
    train = DATASETS.build(ds_cfg)
    assert len(train) == 2
    labels = [train.get_data_info(i)['gt_img_label'] for i in range(2)]
    assert labels[0].sum() == 0
    assert np.flatnonzero(labels[1]).tolist() == [0, 14]
    out = train[1]
    assert max(out['inputs'].shape[1:]) == 448  # whole patch resized, no crop
    assert 'gt_sem_seg' not in out['data_samples']
    pl_cfg = copy.deepcopy(cfg.pseudo_label_dataloader.dataset)
    pl_cfg.data_root = str(tmp_path)
    pl = DATASETS.build(pl_cfg)[1]
    assert tuple(pl['inputs'].shape[1:]) == (40, 56)  # original size
    assert pl['data_samples'].gt_sem_seg.data.unique().tolist() == [0, 1, 15, 255]
