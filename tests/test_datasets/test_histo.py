"""BCSS-WSSS / LUAD-HistoSeg: label strings, raw-mask remapping, converter (real IHC pixels)."""
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmwsss.datasets import BCSSWSSSDataset, LUADHistoSegDataset, WSSSCustomDataset
from mmwsss.datasets.converters.histo import convert_histo
from mmwsss.datasets.histo import parse_label_string, strip_label_string
from mmwsss.datasets.label_io import LabelFileError
from mmwsss.datasets.transforms import LoadWSSSAnnotations
from mmwsss.testing.histo import make_histo_tiny


@pytest.mark.parametrize('name,expected', [
    ('a-[1 0 1 0].png', [1, 0, 1, 0]),
    ('TCGA-A1_x+0[1101].png', [1, 1, 0, 1]),
    ('dir/b-[0 0 0 1]', [0, 0, 0, 1]),
    ('c[0,1,1,0].png', [0, 1, 1, 0]),
])
def test_parse_label_string(name, expected):
    out = parse_label_string(name, 4)
    assert out.dtype == np.float32
    assert out.tolist() == expected


@pytest.mark.parametrize('name,msg', [
    ('a-[1 0 1].png', 'has 3 digits, expected 4'),
    ('a-[10101].png', 'has 5 digits, expected 4'),
    ('a-[1 0 2 0].png', "found ['2']"),
    ('a-[1a01].png', "found ['a']"),
    ('a-1010.png', 'does not end with an image-label string'),
    ('a-[1010]-x.png', 'does not end with an image-label string'),
    ('a-[].png', 'found [\'(empty)\']'),
])
def test_parse_label_string_errors_name_the_file(name, msg):
    with pytest.raises(LabelFileError) as e:
        parse_label_string(osp.join('/data/training', name), 4)
    assert name in str(e.value) and msg in str(e.value)


def test_strip_label_string():
    assert strip_label_string('a-[1 0 1 0]') == 'a'
    assert strip_label_string('b+0[1101]') == 'b+0'


def _train(cls, root):
    return cls(data_root=root, data_prefix=dict(img_path='training', seg_map_path=None))


@pytest.mark.parametrize('cls,dataset', [(BCSSWSSSDataset, 'bcss-wsss'),
                                         (LUADHistoSegDataset, 'luad-histoseg')])
def test_train_labels_from_names(tmp_path, cls, dataset):
    info = make_histo_tiny(str(tmp_path), dataset)
    ds = _train(cls, str(tmp_path))
    assert len(ds) == 4
    got = {osp.basename(d['img_path']): d['gt_img_label'].tolist() for d in ds.load_data_list()}
    for name, digits in info['train'].items():
        assert got[name] == [float(c) for c in digits]
    assert ds.metainfo['classes'][0] == 'background'


def test_val_masks_remapped(tmp_path):
    init_default_scope('mmwsss')
    make_histo_tiny(str(tmp_path))
    ds = BCSSWSSSDataset(
        data_root=str(tmp_path), data_prefix=dict(img_path='val/img', seg_map_path='val/mask'))
    infos = {osp.basename(d['img_path']): d for d in ds.load_data_list()}
    # v0: raw TUM(0) + LYM(2) + background(4) -> labels TUM, LYM
    assert infos['v0.png']['gt_img_label'].tolist() == [1, 0, 1, 0]
    # v1: raw STR(1) + NEC(3)
    assert infos['v1.png']['gt_img_label'].tolist() == [0, 1, 0, 1]
    res = dict(infos['v0.png'], seg_fields=[], ori_shape=(32, 32))
    out = LoadWSSSAnnotations()(res)
    seg = out['gt_seg_map']
    # raw 0 -> 1 (TUM), raw 2 -> 3 (LYM), raw 4 -> 0 (background)
    assert seg[0, 0] == 1 and seg[0, 31] == 3 and seg[31, 0] == 0
    assert sorted(np.unique(seg).tolist()) == [0, 1, 3]


def test_malformed_training_name_fails_at_build(tmp_path):
    make_histo_tiny(str(tmp_path))
    bad = tmp_path / 'training' / 'x+0[10].png'
    (tmp_path / 'training' / 'p0+0[1010].png').rename(bad)
    with pytest.raises(LabelFileError, match=r'x\+0\[10\]\.png.*2 digits'):
        _train(BCSSWSSSDataset, str(tmp_path))


def test_bad_raw_mask_value(tmp_path):
    from PIL import Image
    make_histo_tiny(str(tmp_path))
    Image.fromarray(np.full((32, 32), 7, np.uint8)).save(tmp_path / 'val' / 'mask' / 'v1.png')
    with pytest.raises(ValueError, match='v1.png'):
        BCSSWSSSDataset(
            data_root=str(tmp_path), data_prefix=dict(img_path='val/img', seg_map_path='val/mask'))


def test_converter_roundtrip(tmp_path):
    src, out = str(tmp_path / 'src'), str(tmp_path / 'out')
    make_histo_tiny(src, 'luad-histoseg')
    assert convert_histo(src, out, 'luad-histoseg', 'train', log=lambda m: None)['num_images'] == 4
    convert_histo(src, out, 'luad-histoseg', 'val', log=lambda m: None)
    labels = json.load(open(osp.join(out, 'labels.json')))
    assert labels['train/p0.png'] == ['TE', 'LYM']  # [1 0 1 0]
    assert labels['val/v1.png'] == ['NEC', 'TAS']  # raw 1, 3
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['counts'] == {'train': 4, 'val': 2}
    assert meta['sources']['train/p0.png'] == 'p0-[1 0 1 0].png'
    from PIL import Image
    seg = np.array(Image.open(osp.join(out, 'masks', 'val', 'v0.png')))
    assert sorted(np.unique(seg).tolist()) == [0, 1, 3]
    ds = WSSSCustomDataset(
        data_root=out,
        classes_file='classes.txt',
        label_file='labels.json',
        ann_file='splits/val.txt',
        img_suffix='.png',
        data_prefix=dict(img_path='images', seg_map_path='masks'))
    assert [d['gt_img_label'].tolist() for d in ds.load_data_list()] == [[1, 0, 1, 0], [0, 1, 0, 1]]


def test_converter_refuses_name_clash(tmp_path):
    src = str(tmp_path / 'src')
    make_histo_tiny(src)
    import shutil
    shutil.copy(
        osp.join(src, 'training', 'p0+0[1010].png'), osp.join(src, 'training', 'p0+0[0001].png'))
    with pytest.raises(ValueError, match='same name once the label string is removed'):
        convert_histo(src, str(tmp_path / 'out'), 'bcss-wsss', 'train', log=lambda m: None)


@pytest.mark.parametrize('base', ['bcss-wsss.py', 'luad-histoseg.py'])
def test_dataset_base_configs_run_their_pipelines(tmp_path, base):
    from mmengine.config import Config

    from mmwsss.registry import DATASETS
    from mmwsss.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    init_default_scope('mmwsss')
    cfg = Config.fromfile(osp.join('configs', '_base_', 'datasets', base))
    make_histo_tiny(str(tmp_path), 'bcss-wsss' if base.startswith('bcss') else 'luad-histoseg')
    train = dict(cfg.train_dataloader.dataset, data_root=str(tmp_path))
    ds = DATASETS.build(train)
    out = ds[0]
    assert out['inputs'].shape == (3, 32, 32)
    assert out['data_samples'].gt_img_label.tolist() == [1, 0, 1, 0]  # p0, "1010"
    val = dict(cfg.val_dataloader.dataset, data_root=str(tmp_path))
    sample = DATASETS.build(val)[0]['data_samples']
    seg = sample.gt_sem_seg.data[0]
    assert sorted(seg.unique().tolist()) == [0, 1, 3]  # v0 remapped: bg, TUM/TE, LYM


def test_random_rotate90():
    from mmwsss.datasets.transforms import RandomRotate90
    img = np.arange(12).reshape(3, 4, 1).repeat(3, 2).astype(np.uint8)
    seg = np.arange(12).reshape(3, 4).astype(np.uint8)
    np.random.seed(0)
    seen = set()
    for _ in range(40):
        out = RandomRotate90(prob=1.0)(dict(img=img, gt_seg_map=seg, seg_fields=['gt_seg_map']))
        k = [i for i in range(4) if np.array_equal(out['gt_seg_map'], np.rot90(seg, i))]
        assert len(k) == 1 and np.array_equal(out['img'][..., 0], out['gt_seg_map'])
        assert out['img_shape'] == out['img'].shape[:2]
        seen.add(k[0])
    assert seen == {0, 1, 2, 3}
    same = RandomRotate90(prob=0.0)(dict(img=img, seg_fields=[]))
    assert same['img'] is img
