"""tools/eval_pseudo_labels.py end to end on a folder of three 2x2 PNGs."""
import json

import numpy as np
import pytest
from PIL import Image

from mmwsss.testing import load_tool


def _load_tool():
    return load_tool('tools/eval_pseudo_labels.py')


tool = _load_tool()

GTS = {'img1': [[0, 1], [1, 2]], 'img2': [[0, 0], [255, 2]], 'img3': [[1, 1], [0, 0]]}
PREDS = {'img1': [[0, 1], [2, 2]], 'img2': [[0, 255], [1, 2]], 'img3': [[1, 1], [0, 255]]}
# confusion (rows GT 0..2, columns pred 0..2 + predicted ignore):
#   bg  [3, 0, 0, 2]   cat [0, 3, 1, 0]   dog [0, 0, 2, 0]
# IoU 3/5, 3/4, 2/3; precision 1, 1, 2/3; recall 3/5, 3/4, 1; aAcc 8/11
# predicted ignore: 2 of 12 pixels
IOU = [60.0, 75.0, 200 / 3]


def save(folder, name, array, mode='P'):
    folder.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if mode == 'P':
        img = img.convert('P')  # palette PNG like VOC SegmentationClass
    elif mode == 'RGB':
        img = img.convert('RGB')
    img.save(folder / f'{name}.png')


@pytest.fixture
def dirs(tmp_path):
    for name in GTS:
        save(tmp_path / 'gt', name, GTS[name])
        save(tmp_path / 'pred', name, PREDS[name], mode='L')
    return str(tmp_path / 'pred'), str(tmp_path / 'gt')


def test_end_to_end_json(dirs, tmp_path, capsys):
    out = tmp_path / 'out' / 'res.json'
    assert tool.main([*dirs, '--classes', 'cat,dog', '--json', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'cat' in text and '75.00' in text and '66.67' in text
    res = json.loads(out.read_text())
    assert res['classes'] == ['background', 'cat', 'dog'] and res['num_classes'] == 3
    assert res['num_images'] == 3 and res['num_missing'] == 0
    assert res['mIoU'] == pytest.approx(sum(IOU) / 3, abs=1e-4)
    assert res['mPrecision'] == pytest.approx(100 * (1 + 1 + 2 / 3) / 3, abs=1e-4)
    assert res['mRecall'] == pytest.approx(100 * (0.6 + 0.75 + 1) / 3, abs=1e-4)
    assert res['aAcc'] == pytest.approx(800 / 11, abs=1e-4)
    assert res['ignore_ratio'] == pytest.approx(100 * 2 / 12, abs=1e-4)
    assert [res['per_class'][c]['IoU'] for c in res['classes']] == pytest.approx(IOU, abs=1e-4)
    assert res['per_class']['background']['Recall'] == pytest.approx(60.0)
    assert res['confusion_matrix'] == [[3, 0, 0, 2], [0, 3, 1, 0], [0, 0, 2, 0]]
    assert not [p for p in out.parent.iterdir() if p.name != 'res.json']  # no temp left


def test_inferred_classes_and_nan(dirs):
    res = tool.evaluate(*dirs)  # K inferred = 3, numeric names
    assert res['classes'] == ['0', '1', '2'] and res['mIoU'] == pytest.approx(sum(IOU) / 3)
    res = tool.evaluate(*dirs, num_classes=4)
    assert res['per_class']['3'] == dict(IoU=None, Precision=None, Recall=None)
    assert res['mIoU'] == pytest.approx(sum(IOU) / 3, abs=1e-4)  # nan class excluded


def test_classes_from_meta(dirs, tmp_path):
    meta = tmp_path / 'meta.json'
    meta.write_text(json.dumps(dict(label_space='x', classes=['background', 'cat', 'dog'])))
    assert tool.load_class_names(str(meta)) == ['background', 'cat', 'dog']
    plain = tmp_path / 'names.json'
    plain.write_text(json.dumps(['cat', 'dog']))
    res = tool.evaluate(*dirs, class_names=tool.load_class_names(str(plain)))
    assert res['classes'] == ['background', 'cat', 'dog']
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(dict(names=[])))
    with pytest.raises(tool.EvalError, match="no 'classes' key"):
        tool.load_class_names(str(bad))
    with pytest.raises(tool.EvalError, match='--num-classes 5 but 3 class names'):
        tool.evaluate(*dirs, num_classes=5, class_names=['cat', 'dog'])


def test_split(dirs, tmp_path):
    split = tmp_path / 'train.txt'
    split.write_text('img1\nimg2.jpg extra\n\n')
    assert tool.read_split(str(split)) == ['img1', 'img2']
    res = tool.evaluate(*dirs, split=['img1'])
    # img1 only: bg [1,0,0], cat [0,1,1], dog [0,0,1]: IoU 1, 1/2, 1/2
    assert res['num_images'] == 1
    assert res['mIoU'] == pytest.approx(100 * 2 / 3, abs=1e-4)
    with pytest.raises(tool.EvalError, match='no GT file.*img9'):
        tool.evaluate(*dirs, split=['img1', 'img9'])


def test_missing_prediction(dirs, tmp_path, capsys):
    (tmp_path / 'pred' / 'img3.png').unlink()
    with pytest.raises(tool.EvalError, match=r'1 of 3 image\(s\) have no prediction.*img3'):
        tool.evaluate(*dirs)
    assert tool.main(list(dirs)) == 1
    assert 'img3' in capsys.readouterr().err
    res = tool.evaluate(*dirs, allow_missing=True)
    assert res['num_images'] == 2 and res['num_missing'] == 1 and res['missing'] == ['img3']
    assert tool.main([*dirs, '--allow-missing']) == 0
    assert '1 image(s) without a prediction were skipped: img3' in capsys.readouterr().out


def test_prediction_without_gt(dirs, tmp_path):
    save(tmp_path / 'pred', 'stray', [[0, 0], [0, 0]])
    with pytest.raises(tool.EvalError, match='no GT file.*stray'):
        tool.evaluate(*dirs)


def test_size_mismatch(dirs, tmp_path):
    save(tmp_path / 'pred', 'img2', [[0, 0], [0, 0], [0, 0]])
    with pytest.raises(
            tool.EvalError, match=r'img2.png: prediction size 3x2 .*GT .*img2.png '
            r'size 2x2'):
        tool.evaluate(*dirs)


def test_class_out_of_range(dirs, tmp_path):
    with pytest.raises(tool.EvalError, match=r'img1.png: prediction has class indices \[2\]'):
        tool.evaluate(*dirs, num_classes=2)
    save(tmp_path / 'pred', 'img1', np.ones((2, 2, 3)), mode='RGB')
    with pytest.raises(tool.EvalError, match="mode 'RGB'"):
        tool.evaluate(*dirs)


# --- issue 9 ------------------------------------------------------------------------------
def test_temp_files_are_ignored(dirs, tmp_path):
    """A killed writer's leftovers (old '.tmp-*.png' and current '.<name>.<id>.tmp')
    were orphan predictions without --split: an error, or a wrong score."""
    pred, gt = dirs
    (tmp_path / 'pred' / '.tmp-k2j3h4.png').write_bytes(b'')
    (tmp_path / 'pred' / '.img1.png.123-ab12cd34.tmp').write_bytes(b'\x89PNG')
    res = tool.evaluate(pred, gt, num_classes=3)
    assert res['num_images'] == 3
    assert [res['per_class'][str(i)]['IoU'] for i in range(3)] == pytest.approx(IOU, abs=1e-4)


def test_split_duplicate_refused(dirs, tmp_path):
    split = tmp_path / 'train.txt'
    split.write_text('img1\nimg2\nimg1.jpg\n')
    with pytest.raises(
            tool.EvalError, match=r'train\.txt line 3: img1 is already listed on '
            r'line 1'):
        tool.read_split(str(split))
    assert tool.main([*dirs, '--split', str(split), '--num-classes', '3']) == 1
    with pytest.raises(tool.EvalError, match='more than once'):
        tool.evaluate(*dirs, num_classes=3, split=['img1', 'img1'])


def test_16bit_prediction_not_wrapped(dirs, tmp_path):
    pred, gt = dirs
    # 257 would be 1 (cat) after a uint8 cast; it must be reported as 257
    Image.fromarray(np.array([[0, 257], [2, 2]],
                             dtype=np.uint16)).save(tmp_path / 'pred' / 'img1.png')
    with pytest.raises(
            tool.EvalError, match=r'img1\.png: prediction has class indices '
            r'\[257\]'):
        tool.evaluate(pred, gt, num_classes=3)


def test_nested_keys_match_by_relative_path(tmp_path):
    """a/01 and b/01 are two images (tools/generate_pseudo_labels.py writes them so)."""
    for folder in ('a', 'b'):
        save(tmp_path / 'gt' / folder, '01', GTS['img1'])
    save(tmp_path / 'pred' / 'a', '01', GTS['img1'], mode='L')
    save(tmp_path / 'pred' / 'b', '01', PREDS['img1'], mode='L')
    res = tool.evaluate(str(tmp_path / 'pred'), str(tmp_path / 'gt'), num_classes=3)
    assert res['num_images'] == 2
    split = tmp_path / 's.txt'
    split.write_text('a/01.jpg\n')
    assert tool.evaluate(
        str(tmp_path / 'pred'),
        str(tmp_path / 'gt'),
        num_classes=3,
        split=tool.read_split(str(split)))['mIoU'] == 100.0
