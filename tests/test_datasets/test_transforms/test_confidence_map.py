"""0-255 confidence maps through the stage-2 pipeline of the confidence-weighted config."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from PIL import Image

from mmwsss.datasets.transforms import LoadConfidenceMask
from mmwsss.testing.tools import REPO_ROOT
from mmwsss.utils import register_all_modules

register_all_modules(init_default_scope=False)
CONF_CFG = osp.join(
    REPO_ROOT, 'configs', 'cam',
    'deeplabv3plus-confweight_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
GT_CFG = osp.join(REPO_ROOT, 'configs', 'cam',
                  'deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-gt-320x320.py')


def _write(tmp_path, h=180, w=250):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    # 10x10 blocks of classes 0..20 and some ignore blocks
    blocks = rng.integers(0, 22, (h // 10 + 1, w // 10 + 1))
    label = np.kron(blocks, np.ones((10, 10), dtype=np.int64))[:h, :w]
    label[label == 21] = 255
    conf = np.where(label == 255, 0, label * 12 + 3).astype(np.uint8)
    (tmp_path / 'pl' / 'confidence').mkdir(parents=True)
    Image.fromarray(img).save(tmp_path / 'a.jpg')
    Image.fromarray(label.astype(np.uint8)).save(tmp_path / 'pl' / 'a.png')
    Image.fromarray(conf).save(tmp_path / 'pl' / 'confidence' / 'a.png')
    return dict(
        img_path=str(tmp_path / 'a.jpg'),
        seg_map_path=str(tmp_path / 'pl' / 'a.png'),
        reduce_zero_label=False,
        seg_fields=[])


def test_values_are_kept_without_binarize(tmp_path):
    results = _write(tmp_path)
    results['ori_shape'] = (180, 250)
    out = LoadConfidenceMask(
        label_dir=str(tmp_path / 'pl'), mask_dir='confidence', binarize=False)(
            dict(results))
    label = np.array(Image.open(results['seg_map_path'])).astype(np.int64)
    assert out['gt_conf_mask'].dtype == np.uint8
    assert np.array_equal(out['gt_conf_mask'], np.where(label == 255, 0, label * 12 + 3))
    # BECO's default still binarises
    out = LoadConfidenceMask(label_dir=str(tmp_path / 'pl'), mask_dir='confidence')(dict(results))
    assert set(np.unique(out['gt_conf_mask'])) <= {0, 1}
    # a 16-bit map would wrap in a uint8 cast: refused
    Image.fromarray(np.full((180, 250), 300,
                            dtype=np.uint16)).save(tmp_path / 'pl' / 'confidence' / 'a.png')
    with pytest.raises(ValueError, match='8-bit'):
        LoadConfidenceMask(
            label_dir=str(tmp_path / 'pl'), mask_dir='confidence', binarize=False)(
                dict(results))


def test_the_map_moves_with_the_label_through_the_train_pipeline(tmp_path):
    cfg = Config.fromfile(CONF_CFG)
    pipeline = [dict(t) for t in cfg.train_dataloader.dataset.pipeline]
    assert pipeline[2]['type'] == 'mmwsss.LoadConfidenceMask'
    pipeline[2]['label_dir'] = str(tmp_path / 'pl')
    base = _write(tmp_path)
    with DefaultScope.overwrite_default_scope('mmseg'):
        transform = Compose(pipeline)
        for seed in range(8):  # random resize / crop / flip
            np.random.seed(seed)
            out = transform(dict(base, seg_fields=[]))
            sample = out['data_samples']
            label = sample.gt_sem_seg.data[0]
            conf = sample.gt_conf_mask.data[0]
            assert conf.shape == label.shape == out['inputs'].shape[-2:]
            keep = label != 255
            assert keep.any()
            assert torch.equal(conf[keep], label[keep] * 12 + 3), seed
            assert (conf[~keep] == 0).all()


def test_gt_config_trains_on_the_masks_of_the_training_images():
    from mmwsss.testing.data import coco_mini_converted, coco_mini_root
    if coco_mini_root() is None:
        pytest.skip('coco-mini not found')
    root = coco_mini_converted('voc')
    cfg = Config.fromfile(GT_CFG)
    from mmwsss.registry import DATASETS
    ds_cfg = dict(cfg.train_dataloader.dataset, data_root=root, pipeline=[])
    ds = DATASETS.build(ds_cfg)
    with open(osp.join(root, 'ImageSets', 'Segmentation', 'train.txt')) as f:
        ids = f.read().split()
    assert len(ds) == len(ids) == 104
    info = ds.get_data_info(0)
    assert info['seg_map_path'] == osp.join(root, 'SegmentationClass', ids[0] + '.png')
