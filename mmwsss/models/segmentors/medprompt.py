"""MedPrompt (Zheng et al., Pattern Recognition'24) as a WSSS segmentor.

The paper is a classification method (learned prompts on a frozen medical VLM, image
labels guiding the class vectors only). Its segmentation use here is this package's
composition, every step an option listed in configs/medprompt/README.md:

1. training: :class:`~mmwsss.models.foundation.MedPromptLearner` on frozen CLIP image
   features (``pool`` of the final tokens), the label loss (BCE, multi-label images)
   plus the optional annotation-free context loss;
2. CAMs: ReLU of the patch-prompt cosine similarity of each present class, max-normalised
   per class, bilinear to the original size; ``pred_sem_seg`` by ``cam_to_label``;
3. optional medical SAM (LiteMedSAM): per present class the bounding box of
   ``cam > box_thr`` prompts SAM; a pixel takes the class whose SAM mask covers it with
   the largest CAM value, pixels in no SAM mask are background.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample, img_label_of
from ..foundation.medprompt import MedPromptLearner
from ..utils.cam import cam_to_label


def medprompt_cams(sim: Tensor, eps: float = 1e-5) -> Tensor:
    """(K, h, w) patch-prompt cosines -> ReLU, divided by the per-class max.

    Args:
        sim: (K, h, w) cosine similarity.
    Returns:
        (K, h, w) in [0, 1].
    """
    sim = F.relu(sim)
    return sim / (sim.flatten(1).max(1)[0].view(-1, 1, 1) + eps)


def cam_boxes(cams: Tensor, thr: float) -> List[Optional[List[float]]]:
    """xyxy pixel box of ``cam_k > thr`` per class (None where empty).

    Args:
        cams: (K, H, W).
    """
    out = []
    for cam in cams:
        ys, xs = torch.nonzero(cam > thr, as_tuple=True)
        out.append(None if ys.numel(
        ) == 0 else [float(xs.min(
        )), float(ys.min()), float(xs.max(
        )), float(ys.max())])
    return out


def sam_cam_label(cams: Tensor, sam_masks: Tensor) -> Tensor:
    """Label map from per-class SAM masks, overlaps resolved by the CAM.

    Args:
        cams: (K, H, W) CAMs of K present classes.
        sam_masks: (K, H, W) bool SAM masks of the same classes.
    Returns:
        (H, W) long: 1 + the index (into K) of the winning class, 0 where no mask.
    """
    score = torch.where(sam_masks, cams + 1.0, torch.zeros_like(cams))  # covered > uncovered
    value, index = score.max(0)
    return torch.where(value > 0, index + 1, torch.zeros_like(index))


@MODELS.register_module()
class MedPromptWSSS(BaseSegmentor):
    """Learned prompts on a frozen CLIP, CAMs, optional medical SAM refinement.

    Args:
        clip: ``OpenCLIP`` config (frozen).
        class_names: foreground class names (C).
        learner: :class:`MedPromptLearner` keyword arguments (n_ctx, ctx_init, ...).
        clip_checkpoint: overrides ``clip.checkpoint`` (None keeps it).
        label_mode: ``'bce'`` | ``'ce'`` (:func:`medprompt_label_loss`).
        ctx_weight: weight of the annotation-free context loss (0 = off).
        pool: CLIP image feature for the loss: ``'avg'`` (mean of patch tokens) or
            ``'cls'``.
        bg_thr: background threshold of ``cam_to_label``.
        sam: optional ``SegmentAnything`` config (e.g. arch='litemedsam').
        box_thr: CAM threshold of the SAM box prompts.
    """

    def __init__(self,
                 clip: dict,
                 class_names: Sequence[str],
                 learner: Optional[dict] = None,
                 clip_checkpoint: Optional[str] = None,
                 label_mode: str = 'bce',
                 ctx_weight: float = 0.0,
                 pool: str = 'avg',
                 bg_thr: float = 0.5,
                 sam: Optional[dict] = None,
                 box_thr: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        clip = dict(clip)
        if clip_checkpoint is not None:
            clip['checkpoint'] = clip_checkpoint
        self.class_names = list(class_names)
        self.prompt = MedPromptLearner(MODELS.build(clip), self.class_names, **(learner or {}))
        self.label_mode = label_mode
        self.ctx_weight = ctx_weight
        self.pool = pool
        self.bg_thr = bg_thr
        self.box_thr = box_thr
        self.sam = MODELS.build(sam) if sam is not None else None

    @property
    def clip(self):
        return self.prompt.clip

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def _labels(self, data_samples: List) -> Tensor:
        return torch.stack(
            [img_label_of(s, self.num_classes, i) for i, s in enumerate(data_samples)])

    # ------------------------------------------------------------ training
    def loss(self, inputs: Tensor, data_samples: List) -> dict:
        with torch.no_grad():
            feats = self.clip.encode_image(inputs, pool=self.pool)
        labels = self._labels(data_samples).to(feats.device)
        return self.prompt.losses(feats, labels, self.label_mode, self.ctx_weight)

    # ----------------------------------------------------------- inference
    @torch.no_grad()
    def image_cams(self, img: Tensor, out_size) -> Tensor:
        """(C, H, W) CAMs of one (1, 3, h, w) image, every class (mask afterwards)."""
        sim = self.clip.patch_text_similarity(img, self.prompt())[0]
        cams = medprompt_cams(sim)
        return F.interpolate(cams[None], out_size, mode='bilinear', align_corners=False)[0]

    def _sam_refine(self, img_rgb: np.ndarray, cams: Tensor, fg_idx: List[int]) -> Tensor:
        h, w = img_rgb.shape[:2]
        label = torch.zeros(h, w, dtype=torch.long)
        boxes = cam_boxes(cams[fg_idx], self.box_thr)
        keep = [k for k, b in enumerate(boxes) if b is not None]
        if not keep:
            return label
        out = self.sam.predict_boxes(img_rgb, np.array([boxes[k] for k in keep], np.float32))
        masks = torch.from_numpy(out['masks'][:, 0])
        sub = sam_cam_label(cams[[fg_idx[k] for k in keep]].cpu(), masks)
        cls = torch.tensor([0] + [fg_idx[k] + 1 for k in keep])
        return cls[sub]

    def predict(self, inputs: Tensor, data_samples: Optional[List] = None) -> List[WSSSDataSample]:
        """``cams`` (C, H, W) and ``pred_sem_seg`` at the original size, masked by the
        image labels; with ``sam`` the label map is the SAM refinement."""
        if data_samples is None:
            raise ValueError('MedPrompt needs data samples carrying image labels')
        import mmcv
        results = []
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            multi_hot = img_label_of(sample, self.num_classes, i).to(inputs.device)
            h, w = meta.get('img_shape', inputs.shape[-2:])[:2]
            ori_size = tuple(meta.get('ori_shape', (h, w))[:2])
            cams = self.image_cams(inputs[i:i + 1, :, :h, :w].float(), ori_size)
            if meta.get('flip', False):
                dims = (2, ) if meta.get('flip_direction') == 'vertical' else (3, )
                cams = cams[None].flip(dims)[0]
            cams = cams * multi_hot[:, None, None]
            fg_idx = multi_hot.nonzero().flatten().tolist()
            if self.sam is not None:
                img_rgb = mmcv.imread(meta['img_path'], channel_order='rgb')
                label = self._sam_refine(img_rgb, cams, fg_idx).to(inputs.device)[None]
            else:
                label = cam_to_label(cams[None], multi_hot[None], bg_thr=self.bg_thr)
            if not isinstance(sample, WSSSDataSample):
                new = WSSSDataSample(metainfo=meta)
                for key in ('gt_sem_seg', 'gt_img_label'):
                    if key in sample:
                        setattr(new, key, getattr(sample, key))
                sample = new
            sample.cams = PixelData(data=cams)
            sample.pred_sem_seg = PixelData(data=label)
            results.append(sample)
        return results

    # ------------------------------------------------ BaseSegmentor contract
    def extract_feat(self, inputs: Tensor) -> Tensor:
        return self.clip.encode_image(inputs, pool=self.pool)

    def encode_decode(self, inputs: Tensor, batch_data_samples: List) -> Tensor:
        return torch.stack([
            self.image_cams(inputs[i:i + 1], tuple(inputs.shape[-2:]))
            for i in range(inputs.shape[0])
        ])

    def _forward(self, inputs: Tensor, data_samples: Optional[List] = None) -> Tensor:
        return self.clip.patch_text_similarity(inputs, self.prompt())
