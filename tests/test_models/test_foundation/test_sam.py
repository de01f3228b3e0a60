"""SegmentAnything wrapper on a tiny random SAM (same code path as vit_b/l/h)."""
import numpy as np
import pytest
import torch

pytest.importorskip('segment_anything')

from segment_anything.utils.transforms import ResizeLongestSide  # noqa: E402

from mmwsss.models.foundation import SAM_ARCHS, SegmentAnything, build_sam  # noqa: E402

AMG_ALL = dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0)


@pytest.fixture(scope='module')
def sam():
    torch.manual_seed(0)
    return SegmentAnything('tiny', amg_cfg=AMG_ALL, device='cpu')


@pytest.fixture(scope='module')
def image():
    return (np.random.default_rng(0).random((30, 50, 3)) * 255).astype(np.uint8)


def test_released_archs_build_shapes():
    # sizes of the official checkpoints (only the encoder widths; no weights loaded)
    assert SAM_ARCHS['vit_b']['encoder_embed_dim'] == 768
    assert SAM_ARCHS['vit_h']['encoder_global_attn_indexes'] == (7, 15, 23, 31)
    with pytest.raises(KeyError, match='vit_x'):
        build_sam('vit_x')


def test_apply_image_torch_workaround(sam):
    """PyPI 1.0 reads H, W from dims 0, 1 (B, C); the wrapper's transform does not."""
    x = torch.rand(2, 3, 60, 100) * 255
    out = sam.resize_images(x)
    # long side 100 -> 128 (tiny encoder size): 60 * 1.28 = 76.8 -> 77
    assert out.shape == (2, 3, 77, 128)
    buggy = ResizeLongestSide(128).apply_image_torch(x)
    assert buggy.shape != out.shape  # the upstream bug this wrapper works around
    assert sam.predictor.transform is sam.transform
    assert sam.mask_generator.predictor.transform is sam.transform
    emb = sam.image_embeddings(x)
    assert emb.shape == (2, 32, 8, 8)


def test_checkpoint_roundtrip_and_errors(sam, tmp_path):
    path = str(tmp_path / 'sam_tiny.pth')
    torch.save(sam.sam.state_dict(), path)
    other = SegmentAnything('tiny', checkpoint=path, device='cpu')
    for k, v in sam.sam.state_dict().items():
        assert torch.equal(other.sam.state_dict()[k], v), k
    assert other.settings()['checkpoint'][0].endswith('sam_tiny.pth')
    with pytest.raises(RuntimeError, match=r'sam_tiny.pth[\s\S]*shape mismatch'):
        SegmentAnything(
            dict(SAM_ARCHS['tiny'], encoder_embed_dim=16), checkpoint=path, device='cpu')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        SegmentAnything('tiny', checkpoint=str(tmp_path / 'nope.pth'), device='cpu')


def test_generate(sam, image):
    out = sam.generate(image)
    n = out['masks'].shape[0]
    assert n >= 1
    assert out['masks'].dtype == bool and out['masks'].shape == (n, 30, 50)
    assert out['scores'].shape == (n, ) and out['boxes'].shape == (n, 4)
    again = sam.generate(image)
    assert np.array_equal(out['masks'], again['masks'])  # deterministic
    with pytest.raises(ValueError, match='uint8'):
        sam.generate(image.astype(np.float32))


def test_prompting(sam, image):
    pts = sam.predict_points(image, np.array([[10, 5], [40, 20]]), np.array([1, 0]))
    assert pts['masks'].shape == (3, 30, 50) and pts['scores'].shape == (3, )
    boxes = sam.predict_boxes(image, np.array([[0, 0, 20, 10], [5, 5, 45, 25]]))
    assert boxes['masks'].shape == (2, 1, 30, 50) and boxes['masks'].dtype == bool


def test_iou_first_generator_gives_upstream_masks(image):
    torch.manual_seed(1)
    # NMS off (threshold 1) so that many random-weight candidates survive
    cfg = dict(
        points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)
    ref = SegmentAnything('tiny', amg_cfg=cfg, device='cpu', iou_filter_first=False)
    scores = ref.generate(image)['scores']
    assert len(scores) >= 2
    # a threshold that drops some candidates but not all
    cfg['pred_iou_thresh'] = float(np.median(scores))
    fast = SegmentAnything('tiny', amg_cfg=cfg, device='cpu')
    fast.sam.load_state_dict(ref.sam.state_dict())
    ref = SegmentAnything('tiny', amg_cfg=cfg, device='cpu', iou_filter_first=False)
    ref.sam.load_state_dict(fast.sam.state_dict())
    a, b = fast.generate(image), ref.generate(image)
    assert type(fast.mask_generator).__name__ == 'IoUFirstMaskGenerator'
    assert 0 < len(a['masks']) < len(scores)
    assert np.array_equal(a['masks'], b['masks'])
    assert np.allclose(a['scores'], b['scores'])
