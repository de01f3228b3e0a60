"""The WSSS data preprocessor: labels once, the uint8 RGB image, padding, device views."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.datasets.transforms.views import ViewData
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSBatch, WSSSDataSample

MEAN, STD = [10., 20., 30.], [2., 4., 5.]


def _pre(**kw):
    init_default_scope('mmwsss')
    cfg = dict(
        type='WSSSDataPreProcessor',
        mean=MEAN,
        std=STD,
        bgr_to_rgb=True,
        size=(6, 8),
        num_classes=3)
    cfg.update(kw)
    return MODELS.build(cfg)


def _batch(hw=((5, 7), (6, 8)), view=None):
    inputs, samples = [], []
    g = torch.Generator().manual_seed(0)
    for i, (h, w) in enumerate(hw):
        img = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)  # BGR
        s = WSSSDataSample(
            metainfo=dict(img_shape=(h, w), ori_shape=(h, w), img_path=f'img{i}.jpg'))
        s.gt_img_label = torch.tensor([1., 0., float(i)])
        if view is not None:
            s.views = ViewData(view2=torch.full((3, *view), 40 * (i + 1), dtype=torch.uint8))
        inputs.append(img)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_training_batch_keeps_rgb_image_labels_and_valid_mask():
    pre = _pre()
    data = _batch()
    raw0 = data['inputs'][0].clone()
    out = pre(data, training=True)
    batch = out['wsss']
    assert isinstance(batch, WSSSBatch)
    assert batch.img.dtype == torch.uint8 and batch.img.shape == (2, 3, 6, 8)
    # image 0 (5x7) is RGB in its top-left corner, black (raw_pad_val 0) elsewhere
    assert torch.equal(batch.img[0, :, :5, :7], raw0.flip(0))
    assert batch.img[0, :, 5:].eq(0).all() and batch.img[0, :, :, 7:].eq(0).all()
    assert batch.valid_mask[0].sum() == 35 and batch.valid_mask[1].all()
    assert batch.img_labels.tolist() == [[1, 0, 0], [1, 0, 1]]
    # inputs = (rgb - mean) / std, padding included: (0 - 10) / 2 = -5 in channel 0
    x = out['inputs']
    assert torch.allclose(x[0, :, :5, :7],
                          (raw0.flip(0).float() - torch.tensor(MEAN)[:, None, None]) /
                          torch.tensor(STD)[:, None, None])
    assert x[0, 0, 5, 0].item() == pytest.approx(-5.0)


def test_eval_is_exactly_mmsegs_output():
    pre = _pre()
    out = pre(_batch(hw=((6, 8), (6, 8))), training=False)
    assert set(out) == {'inputs', 'data_samples'}


def test_main_view_flip_moves_the_valid_mask_unless_quirk():
    aug = dict(type='PhotometricView', flip_prob=1.0, jitter=None, gray_prob=0.0, blur_prob=0.0)
    out = _pre(main_view=aug)(_batch(), training=True)['wsss']
    assert out.flipped.all()
    # image 0 is 5x7 in an 8-wide canvas: after the flip its valid columns are 1..7
    assert not out.valid_mask[0, 0, 0] and out.valid_mask[0, 0, 1:].all()
    quirk = _pre(main_view=aug, flip_valid_mask=False)(_batch(), training=True)['wsss']
    assert quirk.valid_mask[0, 0, :7].all() and not quirk.valid_mask[0, 0, 7]


def test_views_from_pipeline_and_from_the_crop_with_shared_flip():
    flip = dict(type='PhotometricView', flip_prob=1.0, jitter=None, gray_prob=0.0, blur_prob=0.0)
    pre = _pre(
        main_view=flip,
        views=dict(
            global2=dict(source='view2'),
            local=dict(source='img', flip='main', aug=dict(flip, flip_prob=0.0))))
    data = _batch(view=(4, 4))
    raw1 = data['inputs'][1].clone()
    batch = pre(data, training=True)['wsss']
    assert batch.view_imgs['global2'].shape == (2, 3, 4, 4)
    assert batch.view_imgs['global2'][1].eq(80).all()
    # the local view shares the main view's flip: identical to the main image here
    assert torch.equal(batch.view_imgs['local'], batch.img)
    assert torch.equal(batch.view_imgs['local'][1], raw1.flip(0).flip(-1))
    expected = (80 - torch.tensor(MEAN)) / torch.tensor(STD)
    assert torch.allclose(batch.views['global2'][1, :, 0, 0], expected)


def test_bad_view_configs_and_missing_views():
    with pytest.raises(ValueError, match="flip='main' needs source='img'"):
        _pre(views=dict(v=dict(source='view2', flip='main')))
    with pytest.raises(KeyError, match='unknown keys'):
        _pre(views=dict(v=dict(source='img', colour=1)))
    pre = _pre(views=dict(g=dict(source='view2')))
    with pytest.raises(KeyError, match="pipeline view 'view2' in img0.jpg"):
        pre(_batch(), training=True)
