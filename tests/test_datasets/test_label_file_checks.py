"""Bad, careless and malicious label / split / mask files on copies of coco-mini images.

Every test builds a small dataset in tmp_path and checks that the bad input is an
error naming the file and the key or line, never a silent change of the data;
the malicious-file test checks that the payload's marker file was not created.
See docs/en/input_checks.md (the catalogue lists these test names).
"""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

from mmwsss.datasets.class_names import VOC_CLASSES
from mmwsss.registry import DATASETS
from mmwsss.testing.data import coco_mini_root
from mmwsss.utils.safe_pickle import UnsafePickleError

init_default_scope('mmwsss')

COCO = coco_mini_root()
needs_coco = pytest.mark.skipif(COCO is None, reason='coco-mini not available')
NUM_FG = len(VOC_CLASSES) - 1


def _voc_copy(root, n=3):
    """VOC layout with ``n`` coco-mini train images (ids = their stems), masks of
    their size (class 15 'person' in the top-left quarter), a split and labels."""
    names = sorted(os.listdir(osp.join(COCO, 'train2017')))[:n]
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    ids = []
    for name in names:
        stem = osp.splitext(name)[0]
        shutil.copy(osp.join(COCO, 'train2017', name), osp.join(root, 'JPEGImages', name))
        w, h = Image.open(osp.join(root, 'JPEGImages', name)).size
        seg = np.zeros((h, w), np.uint8)
        seg[:h // 2, :w // 2] = 15
        Image.fromarray(seg).save(osp.join(root, 'SegmentationClass', stem + '.png'))
        ids.append(stem)
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt'), 'w') as f:
        f.write(''.join(i + '\n' for i in ids))
    with open(osp.join(root, 'cls_labels.json'), 'w') as f:
        json.dump({i: ['person'] for i in ids}, f)
    return ids


def _voc(root, **kwargs):
    cfg = dict(
        type='WSSSVOCDataset',
        data_root=root,
        ann_file='ImageSets/Segmentation/train.txt',
        label_file='cls_labels.json')
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def _custom_copy(root, rows, header='image,labels\n', encoding='utf-8', names=None):
    """Custom layout: coco-mini copies in images/, ``rows`` written to labels.csv."""
    names = names or [n for n in sorted(os.listdir(osp.join(COCO, 'train2017')))[:2]]
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    for name in names:
        dst = osp.join(root, 'images', name)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        shutil.copy(osp.join(COCO, 'train2017', osp.basename(name)), dst)
    with open(osp.join(root, 'labels.csv'), 'w', encoding=encoding, newline='') as f:
        f.write(header + rows)
    return names


def _custom(root, label_file='labels.csv', **kwargs):
    return DATASETS.build(
        dict(
            type='WSSSCustomDataset',
            data_root=root,
            label_file=label_file,
            metainfo=dict(classes=VOC_CLASSES[1:]),
            **kwargs))


# ----------------------------------------------------------------------- security
class _Payload:
    """Pickles as ``os.system('touch <marker>')``: what an attacker's file would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


@needs_coco
def test_malicious_cls_labels_npy_does_not_run_code(tmp_path):
    root = str(tmp_path / 'voc')
    ids = _voc_copy(root)
    marker = tmp_path / 'PWNED'
    labels = {i: np.eye(NUM_FG, dtype=np.float32)[14] for i in ids}
    labels[ids[0]] = _Payload(marker)  # the object array element carries the payload
    np.save(osp.join(root, 'cls_labels.npy'), labels, allow_pickle=True)
    with pytest.raises(UnsafePickleError, match=r'cls_labels\.npy.*posix\.system'):
        _voc(root, label_file='cls_labels.npy')
    assert not marker.exists()


@needs_coco
def test_irn_and_psa_npy_labels_still_load(tmp_path):
    """The restricted unpickler admits what psa (str keys) and IRN (int keys) save."""
    root = str(tmp_path / 'voc')
    ids = _voc_copy(root)
    vec = np.eye(NUM_FG, dtype=np.float32)[14]
    np.save(osp.join(root, 'psa.npy'), {i: vec for i in ids})
    ds = _voc(root, label_file='psa.npy')
    assert [np.flatnonzero(ds.get_data_info(k)['gt_img_label']).tolist()
            for k in range(len(ds))] == [[14]] * len(ids)
    # IRN: '2007_000032' saved as the int 2007000032 (np.int64 keys pickle numpy scalars)
    np.save(osp.join(root, 'irn.npy'), {np.int64(2007000032): vec})
    from mmwsss.datasets.label_io import load_label_file
    assert list(load_label_file(osp.join(root, 'irn.npy'), VOC_CLASSES)) == ['2007_000032']


# ----------------------------------------------------------------------- silent changes
@needs_coco
def test_split_with_duplicate_id_refused(tmp_path):
    root = str(tmp_path / 'voc')
    ids = _voc_copy(root)
    with open(osp.join(root, 'ImageSets/Segmentation/train.txt'), 'a') as f:
        f.write(ids[1] + '\n')  # scored twice and "written 4" for 3 files before
    with pytest.raises(
            ValueError, match=rf'train\.txt line 4: {ids[1]} is already listed '
            r'on line 2'):
        _voc(root)


@needs_coco
def test_json_duplicate_key_refused(tmp_path):
    root = str(tmp_path / 'c')
    names = _custom_copy(root, '')
    # json.load keeps the last value: motorbike would silently become cat
    (tmp_path / 'c' / 'labels.json'
     ).write_text(f'{{"{names[0]}": ["motorbike"], "{names[1]}": ["dog"], "{names[0]}": ["cat"]}}')
    with pytest.raises(ValueError, match=rf"labels\.json: key '{names[0]}' appears twice"):
        _custom(root, label_file='labels.json')


@needs_coco
def test_csv_row_with_extra_field_refused(tmp_path):
    root = str(tmp_path / 'c')
    names = _custom_copy(root, '')
    (tmp_path / 'c' /
     'labels.csv').write_text(f'image,labels\n{names[0]},dog\n{names[1]},bottle,person\n')
    with pytest.raises(ValueError, match=r'labels\.csv line 3: 3 fields but the header has 2'):
        _custom(root)


@needs_coco
def test_csv_row_with_missing_field_refused(tmp_path):
    root = str(tmp_path / 'c')
    names = _custom_copy(root, '')
    (tmp_path / 'c' / 'labels.csv').write_text(f'image,labels\n{names[0]}\n{names[1]},dog\n')
    with pytest.raises(ValueError, match=r'labels\.csv line 2: 1 fields'):
        _custom(root)


@needs_coco
def test_16bit_mask_refused_when_dataset_is_built(tmp_path):
    """Labels from a file (masks not read for labels): the 16-bit mask is still checked."""
    root = str(tmp_path / 'voc')
    ids = _voc_copy(root)
    path = osp.join(root, 'SegmentationClass', ids[1] + '.png')
    seg = np.array(Image.open(path)).astype(np.uint16)
    seg[seg == 15] = 271  # uint8 would make it 15: a valid class, scored as person
    seg[-1, -1] = 270
    Image.fromarray(seg).save(path)
    assert Image.open(path).mode in ('I;16', 'I')
    with pytest.raises(ValueError, match=rf'{ids[1]}\.png holds class indices \[270, 271\]'):
        _voc(root)


@needs_coco
def test_same_file_name_in_two_folders_are_two_samples(tmp_path):
    root = str(tmp_path / 'c')
    base = sorted(os.listdir(osp.join(COCO, 'train2017')))[:2]
    names = [f'a/{base[0]}', f'b/{base[1]}']
    # same file name in a/ and b/: copy the first image under b/ with a's name too
    _custom_copy(root, '', names=names)
    shutil.copy(osp.join(root, 'images', names[1]), osp.join(root, 'images', 'b', base[0]))
    (tmp_path / 'c' / 'labels.csv').write_text(f'image,labels\na/{base[0]},dog\nb/{base[0]},cat\n')
    os.makedirs(osp.join(root, 'masks', 'a'))
    os.makedirs(osp.join(root, 'masks', 'b'))
    ds = _custom(root, data_prefix=dict(img_path='images', seg_map_path='masks'), lazy_init=True)
    samples = ds.list_samples()
    assert [s[2] for s in samples] == [
        osp.join(root, 'masks', 'a',
                 osp.splitext(base[0])[0] + '.png'),
        osp.join(root, 'masks', 'b',
                 osp.splitext(base[0])[0] + '.png')
    ]
    assert ds.metainfo['img_root'] == osp.join(root, 'images')


@needs_coco
def test_keys_differing_only_by_extension_refused(tmp_path):
    root = str(tmp_path / 'c')
    names = _custom_copy(root, '')
    stem = osp.splitext(names[0])[0]
    shutil.copy(osp.join(root, 'images', names[0]), osp.join(root, 'images', stem + '.png'))
    (tmp_path / 'c' / 'labels.csv').write_text(f'image,labels\n{names[0]},dog\n{stem}.png,cat\n')
    with pytest.raises(ValueError, match=rf'{stem}\.png .* differ only by their extension'):
        _custom(root)


# ----------------------------------------------------------------------- encodings
@needs_coco
@pytest.mark.parametrize('encoding,what', [('latin-1', r'not UTF-8 \(byte 0xe9'),
                                           ('utf-16', 'UTF-16')])
def test_csv_in_other_encodings_named(tmp_path, encoding, what):
    root = str(tmp_path / 'c')
    names = _custom_copy(root, '')
    with open(osp.join(root, 'labels.csv'), 'w', encoding=encoding) as f:
        f.write(f'image,labels\n{names[0]},dog\n{names[1]},cat\n# café\n')
    with pytest.raises(ValueError, match=rf'labels\.csv line \d+: the file is {what}.*UTF-8'):
        _custom(root)


@needs_coco
def test_csv_with_excel_bom_reads(tmp_path):
    root = str(tmp_path / 'c')
    names = _custom_copy(root, '')
    with open(osp.join(root, 'labels.csv'), 'w', encoding='utf-8-sig') as f:
        f.write(f'image,labels\n{names[0]},dog\n{names[1]},cat\n')
    assert (tmp_path / 'c' / 'labels.csv').read_bytes()[:3] == b'\xef\xbb\xbf'
    ds = _custom(root)
    assert [np.flatnonzero(ds.get_data_info(i)['gt_img_label']).tolist()
            for i in range(2)] == [[VOC_CLASSES.index('dog') - 1], [VOC_CLASSES.index('cat') - 1]]
