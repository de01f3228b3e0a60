"""The 'seam' CAM preset against a plain restatement of infer_SEAM.py / infer_cam.py."""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mmwsss.models.utils.cam import normalize_cams
from mmwsss.models.utils.cam_inference import CAM_PRESETS, multi_scale_cams
from mmwsss.models.utils.image_norm import normalize

MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def _cam_fn():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 4, 5, stride=4, padding=1)

    def fn(x):  # like cam_rv: non-negative, returned at the (scaled) input size
        with torch.no_grad():
            cam = F.relu(conv(x) + 0.3 * x[:, :1].mean((1, 2, 3), keepdim=True))
            return F.interpolate(cam, x.shape[-2:], mode='bilinear', align_corners=True)

    return fn


def _official(fn, img):
    """infer_SEAM.py: PIL bicubic (round(w*s), round(h*s)), image + flip, each CAM resized
    to the image (align_corners=False), summed; clip; min-max with the official eps rule."""
    h, w = img.shape[:2]
    total = 0
    for s in (0.5, 1.0, 1.5, 2.0):
        pil = Image.fromarray(img).resize((round(w * s), round(h * s)), Image.BICUBIC)
        x = normalize(
            torch.from_numpy(np.asarray(pil).copy()).permute(2, 0, 1)[None], MEAN, STD, True)
        for flip in (False, True):
            xi = x.flip(-1) if flip else x
            cam = F.interpolate(fn(xi), (h, w), mode='bilinear', align_corners=False)[0]
            total = total + (cam.flip(-1) if flip else cam)
    total = total.numpy().astype(np.float64)
    total[total < 0] = 0
    cmax = total.max((1, 2), keepdims=True)
    cmin = total.min((1, 2), keepdims=True)
    total[total < cmin + 1e-5] = 0
    return (total - cmin - 1e-5) / (cmax - cmin + 1e-5)


def test_seam_preset_matches_official_inference():
    rng = np.random.RandomState(0)
    img = rng.randint(0, 256, (37, 53, 3)).astype(np.uint8)
    fn = _cam_fn()
    inputs = normalize(torch.from_numpy(img).permute(2, 0, 1)[None], MEAN, STD, True)
    cfg = dict(CAM_PRESETS['seam'])
    norm = cfg.pop('norm')
    img_norm = dict(mean=MEAN, std=STD, bgr_to_rgb=True)
    ours = normalize_cams(
        multi_scale_cams(fn, inputs, norm='none', img_norm=img_norm, **cfg), norm)[0].numpy()
    ref = _official(fn, img)
    # equal where the official value is >= 0; the official writes a tiny negative
    # -(min + 1e-5) / (max - min + 1e-5) where it zeroes, ours writes 0: the same seeds for
    # every background threshold >= 0
    pos = ref >= 0
    assert pos.mean() > 0.5
    assert np.allclose(ours[pos], ref[pos], atol=1e-5)
    assert np.all(ours[~pos] == 0) and np.all(ref[~pos] <= 0)
    for thr in (0.0, 0.26, 0.5):
        a = np.concatenate([np.full_like(ref[:1], thr), ref]).argmax(0)
        b = np.concatenate([np.full_like(ours[:1], thr), ours]).argmax(0)
        assert (a == b).mean() > 0.999
