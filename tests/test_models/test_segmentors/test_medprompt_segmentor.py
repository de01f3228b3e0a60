"""MedPromptWSSS: CAM normalisation, SAM box prompts and the SAM/CAM label merge by hand,
and one predict on a tiny random CLIP with a fake SAM."""
import numpy as np
import pytest
import torch

from mmwsss.models.segmentors.medprompt import (MedPromptWSSS, cam_boxes, medprompt_cams,
                                                sam_cam_label)
from mmwsss.structures import WSSSDataSample


def test_cams_boxes_merge_by_hand():
    sim = torch.tensor([[[0.2, -0.1], [0.4, 0.1]], [[-0.3, -0.2], [-0.1, -0.5]]])
    cams = medprompt_cams(sim, eps=0.)
    assert torch.allclose(cams[0], torch.tensor([[0.5, 0.], [1., 0.25]]))
    # an all-negative class: 0 everywhere, no NaN thanks to eps
    assert torch.equal(medprompt_cams(sim)[1], torch.zeros(2, 2))
    cams = torch.nan_to_num(cams)
    # class 0 above 0.3 at (y=0, x=0) = 0.5 and (y=1, x=0) = 1; class 1 empty
    assert cam_boxes(cams, 0.3) == [[0., 0., 0., 1.], None]
    wide = torch.zeros(1, 4, 5)
    wide[0, 1:3, 2:5] = 1
    assert cam_boxes(wide, 0.5) == [[2., 1., 4., 2.]]
    # two SAM masks overlapping at (0, 1): the larger CAM wins there
    c = torch.tensor([[[0.9, 0.2, 0.0]], [[0.1, 0.6, 0.0]]])
    m = torch.tensor([[[True, True, False]], [[False, True, False]]])
    assert sam_cam_label(c, m).tolist() == [[1, 2, 0]]
    # a covered pixel with CAM 0 still takes the mask's class
    assert sam_cam_label(torch.zeros(1, 1, 2), torch.tensor([[[True, False]]])).tolist() == [[1, 0]]


class _FakeSAM:

    def __init__(self):
        self.boxes = None

    def predict_boxes(self, img, boxes):
        self.boxes = boxes
        masks = np.zeros((len(boxes), 1) + img.shape[:2], bool)
        for k, (x0, y0, x1, y1) in enumerate(boxes.astype(int)):
            masks[k, 0, y0:y1 + 1, x0:x1 + 1] = True
        return dict(masks=masks, scores=np.ones((len(boxes), 1), np.float32))


def test_predict_with_and_without_sam(tmp_path):
    pytest.importorskip('open_clip')
    import mmcv

    from mmwsss.models.foundation import TINY_CLIP_CFG
    torch.manual_seed(0)
    model = MedPromptWSSS(
        clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG),
        class_names=['edema', 'effusion', 'nodule'],
        learner=dict(n_ctx=2))
    img = (np.random.default_rng(0).random((48, 80, 3)) * 255).astype(np.uint8)
    path = str(tmp_path / 'x.png')
    mmcv.imwrite(img[..., ::-1], path)
    sample = WSSSDataSample(metainfo=dict(img_path=path, img_shape=(48, 80), ori_shape=(48, 80)))
    sample.gt_img_label = torch.tensor([1., 0., 1.])
    x = torch.randn(1, 3, 48, 80)
    out = model.predict(x, [sample])[0]
    assert out.cams.data.shape == (3, 48, 80)
    assert out.cams.data[1].abs().sum() == 0  # absent class masked
    assert set(out.pred_sem_seg.data.unique().tolist()) <= {0, 1, 3}
    losses = model.loss(torch.randn(2, 3, 64, 64), [sample, sample])
    assert set(losses) == {'loss_label'}  # ctx_weight 0 by default here
    model.sam = _FakeSAM()
    out = model.predict(x, [sample])[0]
    label = out.pred_sem_seg.data[0]
    assert label.shape == (48, 80) and set(label.unique().tolist()) <= {0, 1, 3}
    assert model.sam.boxes.shape[1] == 4 and len(model.sam.boxes) <= 2
