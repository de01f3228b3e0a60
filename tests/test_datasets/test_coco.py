import json
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmwsss.datasets.class_names import COCO_CLASSES, VOC_CLASSES
from mmwsss.registry import DATASETS
from mmwsss.testing.data import coco_mini_converted, coco_mini_root, make_voc_tiny

init_default_scope('mmwsss')

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not available')
]


@pytest.fixture(scope='module')
def coco_voc_root():
    return coco_mini_converted('voc')


def _build(root, split, **kwargs):
    cfg = dict(
        type='WSSSCOCODataset', data_root=root, ann_file=f'ImageSets/Segmentation/{split}.txt')
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def test_coco_mini_voc_space(coco_voc_root):
    train = _build(coco_voc_root, 'train')
    val = _build(coco_voc_root, 'val', test_mode=True)
    assert (len(train), len(val)) == (104, 105)
    assert train.label_space == 'voc' and train.metainfo['classes'] == VOC_CLASSES
    labels = json.load(open(osp.join(coco_voc_root, 'cls_labels.json')))
    from_masks = _build(coco_voc_root, 'train', label_file=None)
    for i in range(len(train)):
        info = train.get_data_info(i)
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        assert np.flatnonzero(info['gt_img_label']).tolist() == labels[stem]
        np.testing.assert_array_equal(info['gt_img_label'],
                                      from_masks.get_data_info(i)['gt_img_label'])
    # every image has at least one VOC class; person is the most frequent one
    mat = np.stack([train.get_data_info(i)['gt_img_label'] for i in range(len(train))])
    assert (mat.sum(1) >= 1).all()
    assert VOC_CLASSES[1 + int(mat.sum(0).argmax())] == 'person'


def test_coco_mini_pipeline(coco_voc_root):
    pipeline = [
        dict(type='LoadWSSSImageFromFile'),
        dict(type='LoadWSSSAnnotations'),
        dict(type='PackWSSSInputs')
    ]
    val = _build(coco_voc_root, 'val', pipeline=pipeline)
    out = val[0]
    sample = out['data_samples']
    assert tuple(out['inputs'].shape[1:]) == tuple(sample.gt_sem_seg.shape)
    seg_classes = set(np.unique(sample.gt_sem_seg.data.numpy()).tolist()) - {0, 255}
    assert sorted(k - 1 for k in seg_classes) == sample.img_labels


def test_label_space_argument(tmp_path, coco_voc_root):
    with pytest.raises(ValueError, match="label_space='coco' but .*meta.json says 'voc'"):
        _build(coco_voc_root, 'train', label_space='coco')
    # without meta.json the label space must be given
    info = make_voc_tiny(str(tmp_path), num_images=2)
    with pytest.raises(FileNotFoundError, match='meta.json'):
        _build(info['data_root'], 'train')
    ds = _build(info['data_root'], 'train', label_space='voc', label_file='cls_labels.json')
    assert len(ds) == 2 and ds.metainfo['classes'] == VOC_CLASSES
    ds = _build(info['data_root'], 'train', label_space='coco', label_file=None)
    assert ds.metainfo['classes'] == COCO_CLASSES and len(ds.metainfo['palette']) == 81
