"""CLIP-ES (Lin et al., "CLIP is Also an Efficient Segmenter", CVPR'23): training-free
CAMs from a frozen CLIP ViT-B/16.

Per image (official ``generate_cams_voc12.py::perform``):
1. resize (no crop) to ``ceil(s * H / 16) * 16 x ceil(s * W / 16) * 16``: PIL
   bicubic on the uint8 image, then CLIP normalisation, as the official
   ``_transform_resize`` (``input_resize='pil_bicubic'``);
2. run blocks 0..L-2 without gradient, keeping their head-averaged attention;
3. last block with autograd; image embedding = mean of ``ln_post`` patch tokens
   @ proj; softmax of ``logit_scale * cos`` over [present fg classes + all bg
   classes] (absent fg classes are not in the softmax);
4. Grad-CAM of each present class's probability at ``resblocks[-1].ln_1``
   (patch tokens), min-max scaled (twice, as pytorch-grad-cam does);
5. CAA: mean attention of the last ``attn_layers`` blocks -> Sinkhorn transition
   matrix -> ``(T * box_mask_row) @ cam`` per class, min-max, bilinear to the
   original size.
Dense CRF, if wanted, comes after, in ``pseudo_label_cfg`` (type='DenseCRF').
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample, img_label_of
from ..foundation.class_names import CLIP_ES_TEMPLATES
from ..foundation.clip_es_ops import (CLIP_ES_INPUT_RESIZE, caa_refine, cam_box_mask,
                                      clip_es_resize, grad_cam, minmax_scale, sinkhorn_affinity)
from ..utils.cam import cam_to_label
from ..utils.image_norm import preprocessor_stats


def labels_from_sample(sample, num_classes: int) -> List[int]:
    """Foreground indices of an image (the one reader, :func:`img_label_of`)."""
    return img_label_of(sample, num_classes).nonzero().flatten().tolist()


@MODELS.register_module()
class CLIPES(BaseSegmentor):
    """Training-free CLIP-ES CAM generator, usable as an mmseg segmentor.

    Args:
        clip: config of the CLIP model (``type='OpenCLIP'``).
        class_names: foreground class prompts (synonyms allowed, see
            :mod:`mmwsss.models.foundation.class_names`).
        bg_class_names: background class set competing in the softmax.
        templates: prompt templates (CLIP-ES: ``['a clean origami {}.']``).
        clip_checkpoint: local CLIP weights; overrides ``clip['checkpoint']``.
        scales: input scales. The official code uses 1.0 only; with several
            scales the refined maps (at the original size) are averaged.
        cam_type: ``'caa'`` (refined, the paper's result) or ``'gradcam'``
            (the "Initial" Grad-CAM, upsampled without CAA).
        attn_layers: number of last blocks whose attention is averaged (8).
        sinkhorn_iters: column/row normalisation rounds (3).
        box_thr: relative threshold of the CAA box mask (VOC 0.4, COCO 0.7).
        bg_thr: background threshold of ``pred_sem_seg`` (cam_to_label). 0.5
            equals CLIP-ES's evaluation with bg = 1 - max cam.
        input_resize: ``'pil_bicubic'`` (default, official: PIL bicubic on the
            uint8 image recovered from the inputs, then normalised) or
            ``'torch_bicubic'`` (torch's bicubic on the normalised tensor); see
            :func:`clip_es_resize`.
        data_preprocessor: mmseg ``SegDataPreProcessor`` with CLIP mean/std.
    """

    def __init__(self,
                 clip: dict,
                 class_names: Sequence[str],
                 bg_class_names: Sequence[str] = (),
                 templates: Sequence[str] = tuple(CLIP_ES_TEMPLATES),
                 clip_checkpoint: Optional[str] = None,
                 scales: Sequence[float] = (1.0, ),
                 cam_type: str = 'caa',
                 attn_layers: int = 8,
                 sinkhorn_iters: int = 3,
                 box_thr: float = 0.4,
                 bg_thr: float = 0.5,
                 align_corners: bool = False,
                 input_resize: str = 'pil_bicubic',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        clip = dict(clip)
        if clip_checkpoint is not None:
            clip['checkpoint'] = clip_checkpoint
        self.clip = MODELS.build(clip)
        if cam_type not in ('caa', 'gradcam'):
            raise ValueError(f"cam_type must be 'caa' or 'gradcam', got '{cam_type}'")
        if not class_names:
            raise ValueError('CLIP-ES needs class_names')
        if input_resize not in CLIP_ES_INPUT_RESIZE:
            raise ValueError(f'input_resize must be one of {CLIP_ES_INPUT_RESIZE}, '
                             f"got '{input_resize}'")
        self.input_resize = input_resize
        self.class_names = list(class_names)
        self.bg_class_names = list(bg_class_names)
        self.templates = list(templates)
        self.scales = tuple(scales)
        self.cam_type = cam_type
        self.attn_layers = attn_layers
        self.sinkhorn_iters = sinkhorn_iters
        self.box_thr = box_thr
        self.bg_thr = bg_thr
        self.align_corners = align_corners
        self._text_cache: Dict[torch.device, Tuple[Tensor, Tensor]] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    # ------------------------------------------------------------- text side
    def text_embeddings(self) -> Tuple[Tensor, Tensor]:
        """(C, E) foreground and (C_bg, E) background embeddings, cached per device
        (call :meth:`reset_text_cache` after changing CLIP weights)."""
        device = self.clip.logit_scale.device
        if device not in self._text_cache:
            with torch.no_grad():
                fg = self.clip.class_embeddings(self.class_names, self.templates)
                bg = (
                    self.clip.class_embeddings(self.bg_class_names, self.templates)
                    if self.bg_class_names else fg.new_zeros(0, fg.shape[1]))
            self._text_cache[device] = (fg, bg)
        return self._text_cache[device]

    def reset_text_cache(self) -> None:
        self._text_cache.clear()

    # ------------------------------------------------------------ image side
    def resize_input(self, img: Tensor, scale: float) -> Tensor:
        """(1, 3, H, W) normalised image -> (1, 3, H', W'), sides scaled and rounded
        up to multiples of the patch size, by ``input_resize``
        (:func:`clip_es_resize`)."""
        img_norm = preprocessor_stats(self.data_preprocessor) \
            if self.input_resize == 'pil_bicubic' else None
        return clip_es_resize(img, scale, self.clip.patch_size, self.input_resize, img_norm)

    def single_scale_cams(self, img: Tensor, fg_idx: Sequence[int], out_size: Tuple[int,
                                                                                    int]) -> Tensor:
        """CLIP-ES CAMs of the present classes for one image at one scale.

        Args:
            img: (1, 3, H', W') CLIP-normalised image, sides multiples of 16.
            fg_idx: K present foreground class indices.
            out_size: (H, W) output size.
        Returns:
            (K, H, W) maps in [0, 1].
        """
        fg_text, bg_text = self.text_embeddings()
        text = torch.cat([fg_text[list(fg_idx)], bg_text], 0)
        blocks = self.clip.clip.visual.transformer.resblocks
        with torch.no_grad():
            out = self.clip.forward_tokens(img, num_blocks=len(blocks) - 1)
        x, grid = out['tokens'], out['grid']
        with torch.enable_grad():
            # Grad-CAM target: output of the last block's ln_1 (a leaf here, so the
            # gradient w.r.t. it is the gradient the official forward hook captures).
            y = blocks[-1].ln_1(x).detach().requires_grad_(True)
            x_last, attn_last = self.clip.block_forward(blocks[-1], x, ln_1_out=y)
            img_emb = self.clip.pool_tokens(x_last, pool='avg', normalize=True)
            probs = (self.clip.logit_scale * img_emb @ text.t()).softmax(-1)[0]
            grads = torch.stack([
                torch.autograd.grad(probs[k], y, retain_graph=k < len(fg_idx) - 1)[0][0, 1:]
                for k in range(len(fg_idx))
            ])
        cams = grad_cam(y.detach()[0, 1:], grads, grid)
        # scale_cam_image per layer, then again after the (single-)layer aggregation
        cams = minmax_scale(minmax_scale(cams))
        if self.cam_type == 'gradcam':
            return F.interpolate(
                cams[None], size=out_size, mode='bilinear', align_corners=self.align_corners)[0]
        attns = out['attns'] + [attn_last.detach()]
        attn = torch.stack(attns[-self.attn_layers:]).mean(0)[0, 1:, 1:]
        trans = sinkhorn_affinity(attn, self.sinkhorn_iters)
        refined = caa_refine(cams, trans, cam_box_mask(cams, self.box_thr))
        refined = minmax_scale(refined)
        return F.interpolate(
            refined[None], size=out_size, mode='bilinear', align_corners=self.align_corners)[0]

    def image_cams(self, img: Tensor, fg_idx: Sequence[int], out_size: Tuple[int, int]) -> Tensor:
        """(C, H, W) CAMs of one (1, 3, h, w) image; absent classes are 0."""
        cams = img.new_zeros(self.num_classes, *out_size)
        if not fg_idx:
            return cams
        per_scale = [
            self.single_scale_cams(self.resize_input(img, s), fg_idx, out_size) for s in self.scales
        ]
        cams[list(fg_idx)] = torch.stack(per_scale).mean(0)
        return cams

    def predict(self, inputs: Tensor, data_samples: Optional[List] = None) -> List[WSSSDataSample]:
        """CAMs at the original image size, masked by the image labels.

        Sets ``cams`` (PixelData, (C, H, W) in [0, 1]) and ``pred_sem_seg``
        (cam_to_label with ``bg_thr``) on each data sample.
        """
        if data_samples is None:
            raise ValueError('CLIP-ES needs data samples carrying image labels')
        results = []
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            fg_idx = labels_from_sample(sample, self.num_classes)
            h, w = meta.get('img_shape', inputs.shape[-2:])[:2]
            ori_size = tuple(meta.get('ori_shape', (h, w))[:2])
            img = inputs[i:i + 1, :, :h, :w].float()
            cams = self.image_cams(img, fg_idx, ori_size)
            if meta.get('flip', False):
                dims = (2, ) if meta.get('flip_direction') == 'vertical' else (3, )
                cams = cams[None].flip(dims)[0]
            multi_hot = cams.new_zeros(1, self.num_classes)
            multi_hot[0, fg_idx] = 1
            label = cam_to_label(cams[None], multi_hot, bg_thr=self.bg_thr)
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
        """(B, 1 + h*w, D) final CLIP tokens."""
        return self.clip.forward_tokens(inputs)['tokens']

    def encode_decode(self, inputs: Tensor, batch_data_samples: List) -> Tensor:
        """(B, C, H, W) CAMs at the input size (no resizing to ori_shape)."""
        out = []
        for i, sample in enumerate(batch_data_samples):
            fg_idx = labels_from_sample(sample, self.num_classes)
            out.append(self.image_cams(inputs[i:i + 1], fg_idx, tuple(inputs.shape[-2:])))
        return torch.stack(out)

    def _forward(self, inputs: Tensor, data_samples: Optional[List] = None) -> Tensor:
        """(B, C, h, w) patch-text cosine similarity of the foreground classes."""
        fg_text, _ = self.text_embeddings()
        return self.clip.patch_text_similarity(inputs, fg_text)

    def loss(self, inputs: Tensor, data_samples: List) -> dict:
        raise NotImplementedError('CLIP-ES is training-free: run it with '
                                  'tools/generate_pseudo_labels.py, not tools/train.py')
