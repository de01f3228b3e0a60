"""The dataset base configs parse and their datasets build on real data."""
import copy
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmwsss.registry import DATASETS
from mmwsss.testing.data import coco_mini_converted, coco_mini_root, make_voc_tiny

init_default_scope('mmwsss')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', '_base_', 'datasets')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'pseudo_label_dataloader')


def _dataset(cfg, loader, data_root, **override):
    ds_cfg = copy.deepcopy(cfg[loader]['dataset'])
    ds_cfg.update(data_root=data_root, **override)
    return DATASETS.build(ds_cfg)


@pytest.mark.parametrize('name', ['coco-mini_voc.py', 'voc12aug.py', 'coco14.py'])
def test_configs_define_the_shared_names(name):
    cfg = Config.fromfile(osp.join(CFG_DIR, name))
    for key in LOADERS + ('train_pipeline', 'test_pipeline', 'pseudo_label_pipeline',
                          'tta_pipeline', 'crop_size', 'num_classes', 'data_root', 'val_evaluator',
                          'test_evaluator'):
        assert key in cfg, (name, key)
    train = cfg.train_dataloader.dataset
    assert train.data_prefix.get('seg_map_path') is None  # classification stage: no masks
    assert [t['type'] for t in train.pipeline if 'Annotations' in t['type']] == []
    crop = [t for t in train.pipeline if t['type'] == 'mmseg.RandomCrop'][0]
    assert crop['cat_max_ratio'] == 1.0 and tuple(crop['crop_size']) == tuple(cfg.crop_size)
    pl = cfg.pseudo_label_dataloader
    assert pl.batch_size == 1 and pl.sampler.shuffle is False
    assert pl.dataset.data_prefix.seg_map_path
    assert {t['type']
            for t in pl.dataset.pipeline}.isdisjoint({
                'RandomFlip', 'RandomResizeLong', 'mmseg.RandomCrop', 'mmseg.PhotoMetricDistortion'
            })


@pytest.mark.e2e
@pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not available')
def test_coco_mini_config_builds():
    cfg = Config.fromfile(osp.join(CFG_DIR, 'coco-mini_voc.py'))
    root = coco_mini_converted('voc')
    sizes = {k: len(_dataset(cfg, k, root)) for k in LOADERS}
    assert sizes == dict(
        train_dataloader=104, val_dataloader=105, test_dataloader=105, pseudo_label_dataloader=104)
    train = _dataset(cfg, 'train_dataloader', root)
    out = train[0]
    assert out['inputs'].shape[0] == 3 and max(out['inputs'].shape[1:]) <= 320
    assert 'gt_sem_seg' not in out['data_samples'] and out['data_samples'].img_labels
    pl = _dataset(cfg, 'pseudo_label_dataloader', root)[0]
    assert max(pl['inputs'].shape[1:]) == 320  # long side resized to 320
    assert tuple(pl['data_samples'].gt_sem_seg.shape) == tuple(pl['data_samples'].ori_shape)


def test_voc12aug_config_builds(tmp_path):
    cfg = Config.fromfile(osp.join(CFG_DIR, 'voc12aug.py'))
    info = make_voc_tiny(str(tmp_path), num_images=4)
    split = 'ImageSets/Segmentation/train.txt'
    train = _dataset(cfg, 'train_dataloader', info['data_root'], ann_file=split)
    out = train[1]
    assert out['data_samples'].img_labels == [7, 11]
    assert max(out['inputs'].shape[1:]) <= 512
    val = _dataset(cfg, 'val_dataloader', info['data_root'])
    sample = val[0]['data_samples']
    assert len(val) == 2 and tuple(sample.gt_sem_seg.shape) == (24, 32)
