"""MoRe's cam2seg predictor: tag rule worked out by hand, scores = cam_to_label of the CAM."""
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.segmentors.predictors import CAM2SegPredictor, seg_tags
from mmwsss.models.utils.cam import cam_to_label
from mmwsss.models.utils.cam_inference import CAM_PRESETS, multi_scale_cams
from mmwsss.registry import MODELS


def _logits(pred: torch.Tensor, k: int) -> torch.Tensor:
    """(B, h, w) class map -> one-hot logits (B, k, h, w)."""
    return torch.nn.functional.one_hot(pred, k).permute(0, 3, 1, 2).float()


def test_seg_tags_min_pixels_and_the_unique_skip():
    pred = torch.zeros(2, 4, 5, dtype=torch.long)
    pred[0, 0, :3] = 2  # class 2 (tag 1): 3 pixels < 5 -> dropped
    pred[0, 1:3, :] = 3  # class 3 (tag 2): 10 pixels -> kept
    # image 1 has no background: unique = [1, 3]; unique[1:] skips class 1, whose 2 pixels
    # are NOT checked (kept, as the official loop), while class 3 (18 pixels) is kept too
    pred[1] = 3
    pred[1, 0, :2] = 1
    tags = seg_tags(_logits(pred, 4), min_pixels=5)
    assert tags.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]]


class _Branch(torch.nn.Module):
    """A stand-in branch: fixed classifier logits, seg logits and a CAM function."""

    def __init__(self, cls_logits, seg_logits, cam):
        super().__init__()
        self.cls_logits, self.seg_logits, self.cam = cls_logits, seg_logits, cam

    def forward(self, x, cam_names=None, with_seg=True):
        from mmwsss.structures import BranchOutput
        out = BranchOutput(feats=None, logits={'main': self.cls_logits})
        out.seg_logits = self.seg_logits
        return out


class _Model:

    def __init__(self, branch):
        self.branches = {'net': branch}
        self.predict_branch = 'net'

    def branch_cam_fn(self, name, heads):
        cam = self.branches[name].cam
        return lambda x: torch.nn.functional.interpolate(
            cam.expand(x.shape[0], -1, -1, -1), size=x.shape[-2:], mode='bilinear')


def test_cam2seg_scores_are_cam_to_label_with_predicted_tags():
    init_default_scope('mmwsss')
    g = torch.Generator().manual_seed(0)
    cam = torch.rand(1, 3, 6, 7, generator=g) * 4
    x = torch.randn(2, 3, 6, 7, generator=g)
    # image 0: the classifier predicts class 0; image 1: nothing -> seg-head tags (class 2)
    cls_logits = torch.tensor([[1.0, -1.0, -2.0], [-1.0, -1.0, -3.0]])
    seg_pred = torch.zeros(2, 3, 3, dtype=torch.long)
    seg_pred[1, :2] = 3
    model = _Model(_Branch(cls_logits, _logits(seg_pred, 4), cam))
    pred = MODELS.build(dict(type='CAM2SegPredictor', bg_thr=0.5))
    assert isinstance(pred, CAM2SegPredictor)
    scores = pred(model, x)
    assert scores.shape == (2, 4, 6, 7)
    cams = multi_scale_cams(
        model.branch_cam_fn('net', ['main']), x, **dict(CAM_PRESETS['toco'], scales=(1.0, )))
    tags = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    expected = cam_to_label(cams * tags[..., None, None], tags, bg_thr=0.5)
    assert torch.equal(scores.argmax(1), expected)
    assert (scores[:, 0] == 0.5).all()
    # tags='seg' always uses the seg head: image 0 has no seg class -> all background
    seg_only = CAM2SegPredictor(tags='seg')(model, x).argmax(1)
    assert (seg_only[0] == 0).all() and torch.equal(seg_only[1], expected[1])
