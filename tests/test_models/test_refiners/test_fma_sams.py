"""FMASAMSRefiner: SAMS seeds from stored SAM masks inside a refine chain."""
import numpy as np
import pytest
import torch

from mmwsss.models.foundation.fma import fma_sams_seed, load_fma_masks, save_fma_masks
from mmwsss.models.refiners import FMASAMSRefiner, RefineChain


def toy():
    cams = torch.zeros(1, 3, 4, 4)  # classes 0 and 2 present (channel 1 absent)
    cams[0, 0, 0:2, 0:2] = 1
    cams[0, 2, 2, :] = 1
    masks = np.zeros((3, 4, 4), bool)
    masks[0, 0:2, 0:2] = True
    masks[1, 0:2, 1:3] = True
    masks[2, 1:3, :] = True
    return cams, masks, np.array([1, 1, 2])


def test_refiner_uses_stored_masks(tmp_path):
    cams, masks, levels = toy()
    save_fma_masks(str(tmp_path), 'img1', masks, levels)
    chain = RefineChain([dict(type='FMASAMSRefiner', mask_dir=str(tmp_path), bg_pow=0.7)])
    state = dict(
        cams=cams,
        img_labels=torch.tensor([[1.0, 0.0, 1.0]]),
        meta=[dict(img_path='data/JPEGImages/img1.jpg')])
    label = chain(state)['label'][0]
    # the hand-checked SAMS toy (tests/test_models/test_foundation/test_fma.py)
    assert label.tolist() == [[1, 1, 0, 0], [3, 3, 3, 3], [3, 3, 3, 3], [0, 0, 0, 0]]
    ref = fma_sams_seed(
        cams[0, [0, 2]], torch.from_numpy(masks), torch.from_numpy(levels), 0.7, fg_cls=[0, 2])
    assert torch.equal(label, ref)


def test_refiner_resizes_masks_and_reports_missing(tmp_path):
    cams, masks, levels = toy()
    big = masks.repeat(2, 1).repeat(2, 2)  # stored at twice the CAM size
    save_fma_masks(str(tmp_path), 'img1', big, levels)
    ref = FMASAMSRefiner(mask_dir=str(tmp_path))
    state = dict(
        cams=cams, img_labels=torch.tensor([[1.0, 0.0, 1.0]]), meta=[dict(img_path='x/img1.png')])
    assert ref(state)['label'][0, 1].tolist() == [3, 3, 3, 3]
    state['meta'] = [dict(img_path='x/other.jpg')]
    with pytest.raises(FileNotFoundError, match='other.jpg'):
        ref(state)


def test_refiner_runs_sam_on_a_miss(tmp_path):
    pytest.importorskip('segment_anything')
    torch.manual_seed(0)
    cams = torch.rand(1, 3, 30, 40)
    sam = dict(
        type='FMASegmentAnything',
        arch='tiny',
        device='cpu',
        amg_cfg=dict(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0))
    ref = FMASAMSRefiner(mask_dir=str(tmp_path), sam=sam)
    img = torch.randint(0, 255, (1, 3, 30, 40), dtype=torch.uint8)
    state = dict(
        cams=cams,
        img=img,
        img_labels=torch.tensor([[1.0, 1.0, 0.0]]),
        meta=[dict(img_path='a/b.jpg')])
    label = ref(state)['label']
    assert ref.num_sam_runs == 1 and label.shape == (1, 30, 40)
    assert set(label.unique().tolist()) <= {0, 1, 2}
    assert load_fma_masks(str(tmp_path), 'b') is not None
    ref(state)
    assert ref.num_sam_runs == 1  # second call reads the store
