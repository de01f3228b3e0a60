import numpy as np
import pytest
from PIL import Image

from mmwsss.datasets.class_names import voc_colormap
from mmwsss.datasets.converters.coco import write_mask_atomic
from mmwsss.datasets.transforms import LoadWSSSAnnotations, LoadWSSSImageFromFile


def _jpeg(path, size=(8, 6)):
    Image.new('RGB', size, (200, 10, 10)).save(path, quality=95)
    return path


def test_load_image_ok(tmp_path):
    path = _jpeg(str(tmp_path / 'a.jpg'))
    res = LoadWSSSImageFromFile()(dict(img_path=path))
    assert res['img'].shape == (6, 8, 3) and res['ori_shape'] == (6, 8)
    # mmcv loads BGR: red is in the last channel
    assert abs(int(res['img'][0, 0, 2]) - 200) <= 3 and res['img'][0, 0, 0] < 20


def test_load_image_errors(tmp_path):
    load = LoadWSSSImageFromFile()
    missing = str(tmp_path / 'missing.jpg')
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        load(dict(img_path=missing))
    garbage = str(tmp_path / 'garbage.jpg')
    with open(garbage, 'wb') as f:
        f.write(b'this is not an image at all')
    with pytest.raises(OSError, match='garbage.jpg'):
        load(dict(img_path=garbage))
    empty = str(tmp_path / 'empty.jpg')
    open(empty, 'wb').close()
    with pytest.raises(OSError, match='empty'):
        load(dict(img_path=empty))
    # a truncated noisy JPEG: cv2 silently decodes it (grey bottom), the check refuses it
    noise = np.random.RandomState(0).randint(0, 255, (64, 64, 3)).astype(np.uint8)
    good = str(tmp_path / 'noise.jpg')
    Image.fromarray(noise).save(good, quality=90)
    data = open(good, 'rb').read()
    cut = str(tmp_path / 'cut.jpg')
    with open(cut, 'wb') as f:
        f.write(data[:len(data) * 2 // 3])
    with pytest.raises(OSError, match='truncated JPEG.*cut.jpg'):
        load(dict(img_path=cut))
    assert LoadWSSSImageFromFile(check_jpeg_end=False)(dict(img_path=cut))['img'].shape == (64, 64,
                                                                                            3)
    with pytest.raises(ValueError, match='does not skip'):
        LoadWSSSImageFromFile(ignore_empty=True)


def _mask(path, arr):
    write_mask_atomic(path, arr.astype(np.uint8), voc_colormap(256))
    return path


def _ann_results(seg_path, shape=(2, 3), num_classes=21):
    return dict(
        seg_map_path=seg_path,
        img_path='img.jpg',
        ori_shape=shape,
        seg_fields=[],
        reduce_zero_label=False,
        num_classes=num_classes)


def test_load_annotations_checks(tmp_path):
    load = LoadWSSSAnnotations()
    ok = _mask(str(tmp_path / 'ok.png'), np.array([[0, 20, 255], [1, 0, 0]]))
    res = load(_ann_results(ok))
    assert res['gt_seg_map'].tolist() == [[0, 20, 255], [1, 0, 0]]

    with pytest.raises(ValueError, match=r'\[21, 40\].*ok2.png|ok2.png.*\[21, 40\]'):
        load(_ann_results(_mask(str(tmp_path / 'ok2.png'), np.array([[0, 21, 40], [1, 0, 0]]))))
    # explicit num_classes wins over the sample's
    with pytest.raises(ValueError, match=r'\[20\]'):
        LoadWSSSAnnotations(num_classes=3)(_ann_results(ok))
    with pytest.raises(ValueError, match='has size .*img.jpg'):
        load(_ann_results(ok, shape=(3, 3)))
    rgb = str(tmp_path / 'rgb.png')
    Image.new('RGB', (3, 2), (128, 0, 0)).save(rgb)
    with pytest.raises(ValueError, match='single-channel.*rgb.png|rgb.png.*single-channel'):
        load(_ann_results(rgb))
    with pytest.raises(FileNotFoundError, match='nope.png'):
        load(_ann_results(str(tmp_path / 'nope.png')))
    bad = str(tmp_path / 'bad.png')
    with open(bad, 'wb') as f:
        f.write(b'\x89PNG not really')
    with pytest.raises(OSError, match='bad.png'):
        load(_ann_results(bad))
    with pytest.raises(ValueError, match='no segmentation map'):
        load(_ann_results(None))


# --- issue 9: corrupt JPEGs and 16-bit masks, on copies of coco-mini images -------------
def _coco_image(tmp_path):
    from mmwsss.testing.data import coco_mini_root
    root = coco_mini_root()
    if root is None:
        pytest.skip('coco-mini not available')
    import os
    import shutil
    name = sorted(os.listdir(f'{root}/train2017'))[0]
    dst = str(tmp_path / name)
    shutil.copy(f'{root}/train2017/{name}', dst)
    return dst


def test_truncated_jpeg_with_end_marker_refused(tmp_path):
    """Half a coco-mini JPEG + the end marker again: libjpeg only prints 'Corrupt JPEG
    data' (no file name) and decodes a half grey image; it must be an error naming it."""
    good = _coco_image(tmp_path)
    data = open(good, 'rb').read()
    bad = str(tmp_path / 'half.jpg')
    with open(bad, 'wb') as f:
        f.write(data[:len(data) // 2] + b'\xff\xd9')
    assert LoadWSSSImageFromFile()(dict(img_path=good))['img'].shape[2] == 3
    with pytest.raises(OSError, match=r'corrupt JPEG .*half\.jpg.*Corrupt JPEG data'):
        LoadWSSSImageFromFile()(dict(img_path=bad))
    with pytest.warns(UserWarning, match=r'corrupt JPEG .*half\.jpg'):
        LoadWSSSImageFromFile(corrupt_jpeg='warn')(dict(img_path=bad))
    # the pillow decoder prints nothing: the file is checked by cv2 all the same
    with pytest.raises(OSError, match=r'corrupt JPEG .*half\.jpg'):
        LoadWSSSImageFromFile(imdecode_backend='pillow')(dict(img_path=bad))


def test_16bit_mask_values_not_wrapped(tmp_path):
    """mmseg casts to uint8 before any check: 270 / 271 became 14 / 15, valid classes."""
    path = str(tmp_path / 'm16.png')
    Image.fromarray(np.array([[0, 270, 271], [15, 255, 0]], dtype=np.uint16)).save(path)
    with pytest.raises(ValueError, match=r'm16\.png holds class indices \[270, 271\]'):
        LoadWSSSAnnotations()(_ann_results(path))
    # without any class count, values uint8 cannot hold are refused all the same
    res = _ann_results(path)
    res.pop('num_classes')
    with pytest.raises(ValueError, match=r'm16\.png .*\[270, 271\] that uint8 cannot hold'):
        LoadWSSSAnnotations()(res)
    # a 16-bit mask whose values fit is read exactly
    ok = str(tmp_path / 'ok16.png')
    Image.fromarray(np.array([[0, 20, 255], [1, 0, 0]], dtype=np.uint16)).save(ok)
    assert LoadWSSSAnnotations()(_ann_results(ok))['gt_seg_map'].tolist() == [[0, 20, 255],
                                                                              [1, 0, 0]]
