import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from PIL import Image

from mmwsss.datasets.class_names import COCO_CLASSES, VOC_CLASSES
from mmwsss.datasets.converters.coco import category_to_index, convert_coco, split_from_ann_file
from mmwsss.datasets.label_io import labels_from_mask, read_mask
from mmwsss.testing import load_tool
from mmwsss.testing.data import coco_mini_converted, coco_mini_root

# Hand-made COCO JSON. Image 'a' (10x10):
#   dog    (id 1, area 16): polygon rect x 4..8, y 4..8 -> rows 4-7, cols 4-7
#   person (id 2, area 36): polygon rect x 0..6, y 0..6 -> rows 0-5, cols 0-5
#   person crowd (id 3): uncompressed RLE, rows 7-9, all columns
#   kite   (id 4, area 9): polygon rect x 7..10, y 0..3 -> rows 0-2, cols 7-9
# The dog is listed first, so drawing by area (not list order) keeps it on top.
# Image 'b' (6x8): a kite only (no VOC class). Image 'c' (5x5): no annotation.
CATS = [dict(id=1, name='person'), dict(id=18, name='dog'), dict(id=38, name='kite')]


def _rect(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def _tiny_coco(root):
    img_dir = osp.join(root, 'imgs')
    os.makedirs(img_dir)
    images = [
        dict(id=1, file_name='a.jpg', height=10, width=10),
        dict(id=2, file_name='b.jpg', height=6, width=8),
        dict(id=3, file_name='c.jpg', height=5, width=5)
    ]
    for im in images:
        Image.new('RGB', (im['width'], im['height']),
                  (90, 120, 30)).save(osp.join(img_dir, im['file_name']))
    crowd = dict(size=[10, 10], counts=[7] + [3, 7] * 9 + [3])  # column-major runs
    anns = [
        dict(
            id=1, image_id=1, category_id=18, iscrowd=0, area=16.0, segmentation=_rect(4, 4, 8, 8)),
        dict(id=2, image_id=1, category_id=1, iscrowd=0, area=36.0, segmentation=_rect(0, 0, 6, 6)),
        dict(id=3, image_id=1, category_id=1, iscrowd=1, area=30.0, segmentation=crowd),
        dict(
            id=4, image_id=1, category_id=38, iscrowd=0, area=9.0, segmentation=_rect(7, 0, 10, 3)),
        dict(id=5, image_id=2, category_id=38, iscrowd=0, area=4.0, segmentation=_rect(1, 1, 3, 3)),
    ]
    ann_dir = osp.join(root, 'annotations')
    os.makedirs(ann_dir)
    ann_file = osp.join(ann_dir, 'instances_train2017.json')
    with open(ann_file, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=CATS), f)
    return ann_file, img_dir


def _expected_voc_a():
    person, dog = VOC_CLASSES.index('person'), VOC_CLASSES.index('dog')
    assert (person, dog) == (15, 12)
    exp = np.zeros((10, 10), np.uint8)
    exp[0:6, 0:6] = 15
    exp[7:10, :] = 255  # crowd drawn first ...
    exp[4:8, 4:8] = 12  # ... so the dog keeps row 7, and it stays on top of the person
    return exp


def _files(path):
    return sorted(os.listdir(path))


def test_split_from_ann_file():
    assert split_from_ann_file('a/instances_train2017.json') == 'train'
    assert split_from_ann_file('instances_val2014.json') == 'val'
    assert split_from_ann_file('mydata.json') == 'mydata'


def test_category_to_index_voc_names():
    cats = [
        dict(id=i, name=n) for i, n in enumerate([
            'airplane', 'motorcycle', 'dining table', 'couch', 'potted plant', 'tv', 'dog', 'kite'
        ])
    ]
    idx = category_to_index(cats, 'voc')
    assert [idx[i] for i in range(8)] == [1, 14, 11, 18, 16, 20, 12, 0]
    idx = category_to_index(cats, 'coco')
    assert idx[0] == 5 and idx[7] == 34 and COCO_CLASSES[34] == 'kite'
    with pytest.raises(ValueError, match='not one of the 80'):
        category_to_index([dict(id=1, name='unicorn')], 'coco')


def test_convert_tiny_voc(tmp_path):
    ann_file, img_dir = _tiny_coco(str(tmp_path / 'src'))
    out = str(tmp_path / 'out')
    logs = []
    summary = convert_coco(ann_file, img_dir, out, label_space='voc', log=logs.append)
    assert summary['split'] == 'train'
    assert (summary['num_images'], summary['num_unlabelled']) == (1, 2)
    assert summary['unlabelled'] == ['b', 'c']
    assert any('2 image(s) have no' in line for line in logs)

    seg_dir = osp.join(out, 'SegmentationClass')
    assert _files(seg_dir) == ['a.png']  # nothing written for left-out images
    assert _files(osp.join(out, 'JPEGImages')) == ['a.jpg']
    with Image.open(osp.join(seg_dir, 'a.png')) as png:
        assert png.mode == 'P'
        assert png.getpalette()[3:6] == [128, 0, 0]
        mask = np.array(png)
    np.testing.assert_array_equal(mask, _expected_voc_a())

    split_dir = osp.join(out, 'ImageSets', 'Segmentation')
    assert open(osp.join(split_dir, 'train.txt')).read() == 'a\n'
    assert open(osp.join(split_dir, 'train_unlabelled.txt')).read() == 'b\nc\n'
    labels = json.load(open(osp.join(out, 'cls_labels.json')))
    assert labels == {'a': [11, 14]}  # dog (12 - 1), person (15 - 1)
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['label_space'] == 'voc' and meta['classes'] == list(VOC_CLASSES)
    assert meta['splits']['train']['num_images'] == 1
    assert meta['splits']['train']['num_unlabelled'] == 2
    # atomic writes leave no temporary file behind
    for sub in ('', 'JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        assert not [f for f in os.listdir(osp.join(out, sub)) if f.endswith('.tmp')]


def test_convert_tiny_coco_space_link_and_second_split(tmp_path):
    ann_file, img_dir = _tiny_coco(str(tmp_path / 'src'))
    out = str(tmp_path / 'out')
    s1 = convert_coco(ann_file, img_dir, out, label_space='coco', link=True, log=lambda m: None)
    assert (s1['num_images'], s1['unlabelled']) == (2, ['c'])
    assert osp.islink(osp.join(out, 'JPEGImages', 'a.jpg'))
    assert osp.realpath(osp.join(out, 'JPEGImages',
                                 'a.jpg')) == osp.realpath(osp.join(img_dir, 'a.jpg'))
    mask = read_mask(osp.join(out, 'SegmentationClass', 'a.png'))
    exp = _expected_voc_a()
    exp[exp == 15] = 1  # person
    exp[exp == 12] = 17  # dog
    exp[0:3, 7:10] = 34  # kite is a class here
    np.testing.assert_array_equal(mask, exp)
    mask_b = read_mask(osp.join(out, 'SegmentationClass', 'b.png'))
    assert mask_b.shape == (6, 8) and mask_b.sum() == 34 * 4
    np.testing.assert_array_equal(np.argwhere(mask_b == 34).min(0), [1, 1])

    # a second split into the same folder merges labels and meta
    s2 = convert_coco(
        ann_file,
        img_dir,
        out,
        label_space='coco',
        split='val',
        keep_unlabelled=True,
        log=lambda m: None)
    assert (s2['num_images'], s2['num_unlabelled']) == (3, 0)
    split_dir = osp.join(out, 'ImageSets', 'Segmentation')
    assert open(osp.join(split_dir, 'train.txt')).read() == 'a\nb\n'
    assert open(osp.join(split_dir, 'val.txt')).read() == 'a\nb\nc\n'
    labels = json.load(open(osp.join(out, 'cls_labels.json')))
    assert labels == {'a': [0, 16, 33], 'b': [33], 'c': []}
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert sorted(meta['splits']) == ['train', 'val']
    assert meta['classes'] == list(COCO_CLASSES)

    # another label space into the same folder is refused
    with pytest.raises(ValueError, match="already holds the 'coco' label space"):
        convert_coco(ann_file, img_dir, out, label_space='voc', log=lambda m: None)


def test_convert_missing_image(tmp_path):
    ann_file, img_dir = _tiny_coco(str(tmp_path / 'src'))
    os.remove(osp.join(img_dir, 'b.jpg'))
    with pytest.raises(FileNotFoundError, match='b.jpg'):
        convert_coco(ann_file, img_dir, str(tmp_path / 'out'), log=lambda m: None)


def test_cli(tmp_path, capsys):
    ann_file, img_dir = _tiny_coco(str(tmp_path / 'src'))
    cli = load_tool('tools/dataset_converters/coco.py')
    out = str(tmp_path / 'out')
    assert cli.main([ann_file, img_dir, out, '--label-space', 'voc', '--split', 'trainx',
                     '--link']) == 0
    text = capsys.readouterr().out
    assert "1 images in split 'trainx', 2 left out" in text
    assert '[trainx] 1/1' in text  # progress counts the images written
    assert osp.isfile(osp.join(out, 'ImageSets', 'Segmentation', 'trainx.txt'))


@pytest.mark.e2e
@pytest.mark.skipif(coco_mini_root() is None, reason='coco-mini not available')
@pytest.mark.parametrize('space,counts,fresh', [
    ('voc', dict(train=(104, 25), val=(105, 24)), True),
    ('coco', dict(train=(128, 1), val=(127, 2)), False),
])
def test_coco_mini(tmp_path, space, counts, fresh):
    # 'voc' is converted into tmp_path; 'coco' may come from the shared test cache
    root = coco_mini_converted(space, cache_dir=str(tmp_path) if fresh else None)
    assert osp.isfile(osp.join(root, '.complete'))
    meta = json.load(open(osp.join(root, 'meta.json')))
    labels = json.load(open(osp.join(root, 'cls_labels.json')))
    num_classes = len(meta['classes'])
    for split, (kept, left) in counts.items():
        assert (meta['splits'][split]['num_images'],
                meta['splits'][split]['num_unlabelled']) == (kept, left)
        ids = open(osp.join(root, 'ImageSets', 'Segmentation', split + '.txt')).read().split()
        assert len(ids) == kept
        for stem in ids:
            mask = read_mask(osp.join(root, 'SegmentationClass', stem + '.png'))
            values = np.unique(mask)
            assert ((values < num_classes) | (values == 255)).all(), stem
            from_mask = np.flatnonzero(labels_from_mask(mask, num_classes)).tolist()
            # on coco-mini the classes visible in the mask equal the annotation labels
            assert from_mask == labels[stem], stem
    assert len(labels) == sum(k for k, _ in counts.values())


# --- issue 9: bad COCO JSONs, on a two-image subset of the real coco-mini JSON ----------
def _coco_mini_subset(root, n=2):
    """The first ``n`` coco-mini train images that have a VOC class, their real
    annotations and the real categories, copied into ``root``."""
    src = coco_mini_root()
    if src is None:
        pytest.skip('coco-mini not available')
    with open(osp.join(src, 'annotations', 'instances_train2017.json')) as f:
        full = json.load(f)
    voc_cats = {c['id'] for c in full['categories'] if c['name'] in ('person', 'dog', 'car')}
    with_voc = sorted({
        a['image_id']
        for a in full['annotations'] if a['category_id'] in voc_cats and not a.get('iscrowd', 0)
    })
    images = [im for im in full['images'] if im['id'] in with_voc[:n]]
    anns = [a for a in full['annotations'] if a['image_id'] in with_voc[:n]]
    img_dir = osp.join(root, 'imgs')
    os.makedirs(img_dir)
    for im in images:
        shutil.copy(osp.join(src, 'train2017', im['file_name']), img_dir)
    data = dict(images=images, annotations=anns, categories=full['categories'])
    return data, img_dir


def _write(root, data, name='instances_train2017.json'):
    path = osp.join(root, name)
    with open(path, 'w') as f:
        json.dump(data, f)
    return path


def _convert(ann_file, img_dir, out, **kwargs):
    return convert_coco(ann_file, img_dir, out, log=kwargs.pop('log', lambda m: None), **kwargs)


def test_coco_json_without_annotations_refused(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    del data['annotations']
    ann = _write(str(tmp_path), data)
    # before: "0 images, 2 left out" and an empty split
    with pytest.raises(ValueError, match=r"instances_train2017\.json has no 'annotations'"):
        _convert(ann, img_dir, str(tmp_path / 'out'))
    assert not osp.exists(tmp_path / 'out' / 'ImageSets')


def test_coco_split_without_any_label_space_class_refused(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    data['annotations'] = []
    ann = _write(str(tmp_path), data)
    with pytest.raises(
            ValueError, match=r"none of its 2 images .* 'train' split would be "
            'empty'):
        _convert(ann, img_dir, str(tmp_path / 'out'))
    assert _convert(ann, img_dir, str(tmp_path / 'out'), keep_unlabelled=True)['num_images'] == 2


def test_coco_unknown_category_id_refused(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    bad = data['annotations'][0]
    bad['category_id'] = 999
    ann = _write(str(tmp_path), data)
    with pytest.raises(
            ValueError,
            match=rf'annotation id {bad["id"]} \(image id '
            rf'{bad["image_id"]}\): category_id 999 is not in'):
        _convert(ann, img_dir, str(tmp_path / 'out'))


def test_coco_image_size_differs_from_file_refused(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    im = data['images'][1]
    real_h = im['height']
    im['height'] += 7
    ann = _write(str(tmp_path), data)
    with pytest.raises(
            ValueError,
            match=rf'image id {im["id"]} \({im["file_name"]}\) is '
            rf'{real_h + 7}x{im["width"]} .* but {real_h}x'):
        _convert(ann, img_dir, str(tmp_path / 'out'))
    assert not osp.exists(tmp_path / 'out' / 'SegmentationClass')  # nothing half-done


def test_coco_degenerate_polygon_dropped_with_listed_warning(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    poly_anns = [a for a in data['annotations'] if isinstance(a['segmentation'], list)]
    two_points, one_good = poly_anns[0], poly_anns[1]
    two_points['segmentation'] = [[10.0, 10.0, 20.0, 20.0]]  # 2 points: no area
    one_good['segmentation'] = one_good['segmentation'] + [[5.0, 5.0]]
    ann = _write(str(tmp_path), data)
    logs = []
    out = str(tmp_path / 'out')
    summary = _convert(ann, img_dir, out, log=logs.append)
    assert summary['dropped_polygons'] == sorted([two_points['id'], one_good['id']])
    warning = [m for m in logs if 'WARNING' in m]
    assert warning and '2 polygon(s) with fewer than 3 points' in warning[0]
    assert str(two_points['id']) in warning[0] and str(one_good['id']) in warning[0]
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['splits']['train']['dropped_polygons'] == summary['dropped_polygons']


def test_coco_annotation_without_segmentation_named(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    bad = data['annotations'][1]
    del bad['segmentation']
    ann = _write(str(tmp_path), data)
    with pytest.raises(ValueError, match=rf'annotation id {bad["id"]} .* has no segmentation'):
        _convert(ann, img_dir, str(tmp_path / 'out'))


def test_coco_crowd_rle_of_other_size_named(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    im = data['images'][0]
    h, w = im['height'], im['width']
    crowd = dict(
        id=990001,
        image_id=im['id'],
        category_id=1,
        iscrowd=1,
        area=10.0,
        bbox=[0, 0, 2, 2],
        segmentation=dict(size=[h - 1, w], counts=[(h - 1) * w]))
    data['annotations'].append(crowd)
    ann = _write(str(tmp_path), data)
    with pytest.raises(
            ValueError,
            match=rf'annotation id 990001 \(image id {im["id"]}\): RLE '
            rf'size \[{h - 1}, {w}\] differs'):
        _convert(ann, img_dir, str(tmp_path / 'out'))


def test_coco_non_json_annotation_file_named(tmp_path):
    _, img_dir = _coco_mini_subset(str(tmp_path))
    ann = osp.join(str(tmp_path), 'instances_train2017.json')
    with open(ann, 'w') as f:
        f.write('<html>not json</html>\n')
    with pytest.raises(ValueError, match=r'instances_train2017\.json is not valid JSON'):
        _convert(ann, img_dir, str(tmp_path / 'out'))


def test_converter_outputs_get_the_umask_mode(tmp_path):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    ann = _write(str(tmp_path), data)
    old = os.umask(0o027)
    try:
        _convert(ann, img_dir, str(tmp_path / 'out'))
    finally:
        os.umask(old)
    for sub in ('SegmentationClass', 'JPEGImages', 'ImageSets/Segmentation'):
        for name in os.listdir(tmp_path / 'out' / sub):
            assert os.stat(tmp_path / 'out' / sub / name).st_mode & 0o777 == 0o640, name


def test_cli_reports_bad_json_without_traceback(tmp_path, capsys):
    data, img_dir = _coco_mini_subset(str(tmp_path))
    data['annotations'][0]['category_id'] = 999
    ann = _write(str(tmp_path), data)
    cli = load_tool('tools/dataset_converters/coco.py')
    assert cli.main([ann, img_dir, str(tmp_path / 'out')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'category_id 999' in err
