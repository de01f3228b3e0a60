"""A CAM classifier as an mmseg segmentor: trains on image labels, predicts CAMs."""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample
from mmwsss.structures.img_labels import stack_img_labels
from ..utils.cam import cam_to_label, normalize_cams
from ..utils.cam_inference import CAM_PRESETS, multi_scale_cams
from ..utils.image_norm import preprocessor_stats

# IRN's make_cam.py as is, input path included: PIL-bicubic rescaled uint8 image,
# CAMs upsampled to the stride-16 grid size then cropped; cam_eval_thres 0.15.
DEFAULT_CAM_CFG = dict(CAM_PRESETS['irn'], bg_thr=0.15, ignore_band=None)


class CAMPredictMixin:
    """Multi-scale CAM prediction for any segmentor exposing ``cam_head``.

    Needs ``self.cam_head`` (a :class:`CAMHead`), ``self.extract_feat`` and
    ``self.cam_cfg`` (built by :func:`build_cam_cfg`).
    """

    cam_cfg: dict

    @property
    def cam_head(self):  # pragma: no cover - provided by the segmentor
        raise NotImplementedError

    def cam_fn(self, inputs: Tensor) -> Tensor:
        """Raw CAMs (N, C, h, w) of normalised images (N, 3, H, W)."""
        return self.cam_head(self.extract_feat(inputs))[1]

    @torch.no_grad()
    def predict_cams(self, inputs: Tensor, data_samples: OptSampleList = None) -> List[Tensor]:
        """Per image (C, H_ori, W_ori) CAMs in [0, 1], masked by image labels.

        Each image's CAMs are computed on its unpadded ``img_shape`` region (the
        official code runs one image at a time, so batch padding must not reach
        the network nor the ``out_stride`` grid); a batch without padding runs in
        one call. Then: undo a test-time flip, resize (bilinear) to ``ori_shape``,
        normalise (``norm``), mask absent classes.

        Args:
            inputs: (B, 3, H, W) normalised, possibly padded, images.
            data_samples: with ``img_shape``, ``ori_shape`` (and flip) metainfo
                and ``gt_img_label``; None treats the inputs as unpadded originals.
        Returns:
            B tensors (C, H_ori, W_ori).
        """
        cfg = self.cam_cfg
        keys = ('scales', 'flip', 'flip_merge', 'scale_merge', 'relu_first', 'resize_before_merge',
                'input_resize', 'out_stride', 'align_corners')
        kwargs = {k: cfg[k] for k in keys if k in cfg}
        if kwargs.get('input_resize') == 'pil_bicubic':
            # the official path resizes the uint8 image: recover it from the inputs
            kwargs['img_norm'] = preprocessor_stats(getattr(self, 'data_preprocessor', None))
        metas = [s.metainfo for s in data_samples] if data_samples is not None \
            else [{} for _ in range(inputs.shape[0])]
        full = tuple(inputs.shape[-2:])
        shapes = [tuple(m.get('img_shape', full)[:2]) for m in metas]
        if all(s == full for s in shapes):
            raws = list(multi_scale_cams(self.cam_fn, inputs, norm='none', **kwargs))
        else:
            raws = [
                multi_scale_cams(self.cam_fn, inputs[i:i + 1, :, :h, :w], norm='none', **kwargs)[0]
                for i, (h, w) in enumerate(shapes)
            ]
        labels = None
        if data_samples is not None and cfg.get('use_img_labels', True):
            labels = stack_img_labels(data_samples, self.cam_head.num_classes, inputs.device)
        outputs = []
        for i, (meta, raw) in enumerate(zip(metas, raws)):
            cam = raw[None]
            if meta.get('flip', False):
                cam = cam.flip(-1 if meta.get('flip_direction') == 'horizontal' else -2)
            ori = tuple(meta.get('ori_shape', shapes[i])[:2])
            if ori != shapes[i]:
                cam = F.interpolate(
                    cam, size=ori, mode='bilinear', align_corners=cfg.get('align_corners', False))
            # norm_eps: the stabiliser of the chosen formula (ACR's min-max uses 1e-6)
            cam = normalize_cams(cam, cfg.get('norm', 'max'), cfg.get('norm_eps', 1e-5))
            if labels is not None:
                cam = cam * labels[i, :, None, None]
            outputs.append(cam[0])
        return outputs

    def predict_cam_samples(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Data samples with ``cams`` and ``pred_sem_seg`` = cam_to_label(cams)."""
        cams = self.predict_cams(inputs, data_samples)
        if data_samples is None:
            data_samples = [WSSSDataSample() for _ in cams]
        for sample, cam in zip(data_samples, cams):
            label = cam_to_label(
                cam[None],
                None,
                bg_thr=self.cam_cfg['bg_thr'],
                ignore_band=self.cam_cfg.get('ignore_band'))
            sample.set_data({'cams': PixelData(data=cam), 'pred_sem_seg': PixelData(data=label)})
        return data_samples


def build_cam_cfg(user: Optional[dict]) -> dict:
    """IRN defaults, then an optional ``preset`` (``CAM_PRESETS``), then the user's
    keys (any :func:`multi_scale_cams` option, ``norm``, ``bg_thr``, ``ignore_band``,
    ``use_img_labels``)."""
    cfg = dict(DEFAULT_CAM_CFG)
    user = dict(user or {})
    if 'preset' in user:
        cfg.update(CAM_PRESETS[user.pop('preset')])
    cfg.update(user)
    return cfg


@MODELS.register_module()
class CAMClassifier(CAMPredictMixin, EncoderDecoder):
    """Backbone (+ neck) + :class:`CAMHead` as ``decode_head``.

    ``loss`` trains the multi-label classifier from ``gt_img_label``; ``predict``
    returns, per image, ``cams`` (PixelData (C, H, W) in [0, 1] at ``ori_shape``,
    masked by the image labels) and ``pred_sem_seg`` = cam_to_label(cams, bg_thr),
    so mmseg's tools/test.py and evaluators work on it unchanged.

    ``test_cfg`` keys (defaults: IRN's recipe, ``CAM_PRESETS['irn']``):
        preset: 'irn' | 'toco' to start from a preset;
        scales, flip, flip_merge, scale_merge, relu_first, norm, align_corners,
        norm_eps (the stabiliser of ``norm``, default 1e-5),
        resize_before_merge, input_resize ('scale_factor' | 'size_int' |
        'pil_bicubic'), out_stride: see :func:`multi_scale_cams` (the irn preset
        uses IRN's PIL-bicubic inputs and its 16-multiple upsample-then-crop, the
        toco preset ToCo's resize-then-max order and int(s*h) input sizes);
        bg_thr, ignore_band: see :func:`cam_to_label`;
        use_img_labels: mask CAMs with the image labels (default True; the
            WSSS seed protocol). Without labels all classes are kept.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.cam_cfg = build_cam_cfg(self.test_cfg)

    @property
    def cam_head(self):
        return self.decode_head

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        x = self.extract_feat(inputs)
        return self.decode_head.loss(x, data_samples, self.train_cfg)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Image logits (B, C): the 'tensor' mode (flops counting, export)."""
        return self.decode_head(self.extract_feat(inputs))[0]

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        return self.predict_cam_samples(inputs, data_samples)
