"""Segment Anything (segment-anything==1.0) wrapper: local checkpoints, CPU or GPU,
automatic mask generation and point / box prompting.

PyPI 1.0 bug worked around here: ``ResizeLongestSide.apply_image_torch`` computes
the target size from ``image.shape[0], image.shape[1]`` (batch, channels) instead of
``shape[2], shape[3]``; :class:`FixedResizeLongestSide` replaces it everywhere this
wrapper uses a transform.
"""
import os
from functools import partial
from typing import Dict, Optional, Union

import numpy as np
import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from ..utils.freeze import freeze
from .clip_checkpoint import load_state_dict_checked

try:
    from segment_anything import SamAutomaticMaskGenerator, SamPredictor
    from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                           TwoWayTransformer)
    from segment_anything.utils.amg import MaskData
    from segment_anything.utils.transforms import ResizeLongestSide
except ImportError:  # optional dependency: importing mmwsss.models must still work
    ResizeLongestSide = SamAutomaticMaskGenerator = object
    SAM_IMPORT_ERROR = ('segment-anything is not installed: pip install '
                        'segment-anything==1.0 (see requirements/optional.txt)')
else:
    SAM_IMPORT_ERROR = None

# Architectures of the released checkpoints (sam_vit_{b,l,h}_*.pth), as in
# segment_anything.build_sam; 'tiny' is a random-weight toy of the same code path.
SAM_ARCHS = dict(
    vit_b=dict(
        encoder_embed_dim=768,
        encoder_depth=12,
        encoder_num_heads=12,
        encoder_global_attn_indexes=(2, 5, 8, 11)),
    vit_l=dict(
        encoder_embed_dim=1024,
        encoder_depth=24,
        encoder_num_heads=16,
        encoder_global_attn_indexes=(5, 11, 17, 23)),
    vit_h=dict(
        encoder_embed_dim=1280,
        encoder_depth=32,
        encoder_num_heads=16,
        encoder_global_attn_indexes=(7, 15, 23, 31)),
    tiny=dict(
        encoder_embed_dim=32,
        encoder_depth=2,
        encoder_num_heads=2,
        encoder_global_attn_indexes=(1, ),
        image_size=128,
        window_size=4,
        prompt_embed_dim=32,
        decoder_mlp_dim=64,
        decoder_num_heads=2,
        decoder_depth=1,
        iou_head_hidden_dim=32))
_SAM_DEFAULTS = dict(
    prompt_embed_dim=256,
    image_size=1024,
    patch_size=16,
    window_size=14,
    decoder_mlp_dim=2048,
    decoder_num_heads=8,
    decoder_depth=2,
    iou_head_hidden_dim=256)


class FixedResizeLongestSide(ResizeLongestSide):
    """``ResizeLongestSide`` whose batched torch path reads H, W from dims 2, 3."""

    def apply_image_torch(self, image: Tensor) -> Tensor:
        """(B, C, H, W) float -> (B, C, H', W') with max(H', W') = target_length."""
        if image.dim() != 4:
            raise ValueError(f'expected (B, C, H, W), got {tuple(image.shape)}')
        size = self.get_preprocess_shape(image.shape[2], image.shape[3], self.target_length)
        return torch.nn.functional.interpolate(
            image, size, mode='bilinear', align_corners=False, antialias=True)


class IoUFirstMaskGenerator(SamAutomaticMaskGenerator):
    """``SamAutomaticMaskGenerator`` that drops masks failing ``pred_iou_thresh``
    *before* upsampling them to the image size.

    Upstream upsamples every candidate (3 per point, 1024 points: (192, H, W) float
    logits per batch of 64 points) and filters afterwards; the predicted IoU does not
    depend on the upsampling, so filtering first gives the same masks in the same
    order at a fraction of the CPU time and memory.
    """

    def _process_batch(self, points: np.ndarray, im_size, crop_box, orig_size):
        predictor = self.predictor
        model = predictor.model
        coords = torch.as_tensor(
            predictor.transform.apply_coords(points, im_size), device=predictor.device)[:, None, :]
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int, device=coords.device)
        sparse, dense = model.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        low_res, iou_preds = model.mask_decoder(
            image_embeddings=predictor.features,
            image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True)
        low_res, iou_preds = low_res.flatten(0, 1), iou_preds.flatten(0, 1)
        pts = torch.as_tensor(points.repeat(3, axis=0))
        if self.pred_iou_thresh > 0.0:
            keep = iou_preds > self.pred_iou_thresh
            low_res, iou_preds, pts = low_res[keep], iou_preds[keep], pts[keep.cpu()]
        if low_res.shape[0]:
            masks = model.postprocess_masks(low_res[:, None], predictor.input_size,
                                            predictor.original_size)[:, 0]
        else:
            masks = low_res.new_zeros(0, *predictor.original_size)
        return self._finish_batch(
            MaskData(masks=masks, iou_preds=iou_preds, points=pts), crop_box, orig_size)

    def _finish_batch(self, data: 'MaskData', crop_box, orig_size) -> 'MaskData':
        """Upstream's tail of ``_process_batch``: stability filter, binarise, boxes,
        crop-edge filter, RLE."""
        from segment_anything.utils.amg import (batched_mask_to_box, calculate_stability_score,
                                                is_box_near_crop_edge, mask_to_rle_pytorch,
                                                uncrop_masks)
        orig_h, orig_w = orig_size
        data['stability_score'] = calculate_stability_score(data['masks'],
                                                            self.predictor.model.mask_threshold,
                                                            self.stability_score_offset)
        if self.stability_score_thresh > 0.0:
            data.filter(data['stability_score'] >= self.stability_score_thresh)
        data['masks'] = data['masks'] > self.predictor.model.mask_threshold
        data['boxes'] = batched_mask_to_box(data['masks'])
        keep = ~is_box_near_crop_edge(data['boxes'], crop_box, [0, 0, orig_w, orig_h])
        if not torch.all(keep):
            data.filter(keep)
        data['masks'] = uncrop_masks(data['masks'], crop_box, orig_h, orig_w)
        data['rles'] = mask_to_rle_pytorch(data['masks'])
        del data['masks']
        return data


def build_sam(arch: Union[str, dict]) -> 'Sam':
    """Build a SAM model of a named (``vit_b|vit_l|vit_h|tiny``) or custom arch."""
    if SAM_IMPORT_ERROR:
        raise ImportError(SAM_IMPORT_ERROR)
    if isinstance(arch, str):
        if arch not in SAM_ARCHS:
            raise KeyError(f"unknown SAM arch '{arch}', expected one of {list(SAM_ARCHS)}")
        arch = SAM_ARCHS[arch]
    cfg = dict(_SAM_DEFAULTS, **arch)
    embed_size = cfg['image_size'] // cfg['patch_size']
    dim = cfg['prompt_embed_dim']
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=cfg['encoder_depth'],
            embed_dim=cfg['encoder_embed_dim'],
            img_size=cfg['image_size'],
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=cfg['encoder_num_heads'],
            patch_size=cfg['patch_size'],
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=tuple(cfg['encoder_global_attn_indexes']),
            window_size=cfg['window_size'],
            out_chans=dim),
        prompt_encoder=PromptEncoder(
            embed_dim=dim,
            image_embedding_size=(embed_size, embed_size),
            input_image_size=(cfg['image_size'], cfg['image_size']),
            mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=cfg['decoder_depth'],
                embedding_dim=dim,
                mlp_dim=cfg['decoder_mlp_dim'],
                num_heads=cfg['decoder_num_heads']),
            transformer_dim=dim,
            iou_head_depth=3,
            iou_head_hidden_dim=cfg['iou_head_hidden_dim']),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375])
    return sam.eval()


def _check_image(img: np.ndarray) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 \
            or img.dtype != np.uint8:
        raise ValueError('SAM expects an (H, W, 3) uint8 RGB numpy image, got '
                         f'{type(img).__name__} {getattr(img, "shape", "")} '
                         f'{getattr(img, "dtype", "")}')
    return img


@MODELS.register_module()
class SegmentAnything(BaseModule):
    """Frozen SAM with automatic mask generation and prompting.

    Args:
        arch: ``'vit_b' | 'vit_l' | 'vit_h'`` (official checkpoints) or ``'tiny'`` /
            a dict of :data:`SAM_ARCHS`-style sizes (tests).
        checkpoint: local ``sam_vit_*.pth`` state dict; None = random weights.
        amg_cfg: ``SamAutomaticMaskGenerator`` keyword arguments (SAM defaults:
            points_per_side=32, pred_iou_thresh=0.88, stability_score_thresh=0.95,
            box_nms_thresh=0.7, ...).
        device: 'cpu', 'cuda', ... None picks CUDA when available.
        iou_filter_first: use :class:`IoUFirstMaskGenerator` (same masks, much
            faster on CPU); False runs segment-anything's generator unchanged.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'vit_b',
                 checkpoint: Optional[str] = None,
                 amg_cfg: Optional[dict] = None,
                 device: Optional[str] = None,
                 iou_filter_first: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if SAM_IMPORT_ERROR:
            raise ImportError(SAM_IMPORT_ERROR)
        self.arch = arch
        self.iou_filter_first = iou_filter_first
        self.checkpoint = checkpoint
        self.amg_cfg = dict(amg_cfg or {})
        self.sam = build_sam(arch)
        if checkpoint is not None:
            if not os.path.isfile(checkpoint):
                raise FileNotFoundError(f'SAM checkpoint not found: {checkpoint}')
            state = torch.load(checkpoint, map_location='cpu', weights_only=True)
            if isinstance(state, dict) and isinstance(state.get('model'), dict):
                state = state['model']
            load_state_dict_checked(self.sam, state, checkpoint)
        freeze(self.sam, eval_mode=False)  # eval mode is set where the model is placed
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.sam.to(device)
        self.transform = FixedResizeLongestSide(self.sam.image_encoder.img_size)
        self.predictor = SamPredictor(self.sam)
        self.predictor.transform = self.transform
        self._amg = None

    @property
    def device(self) -> torch.device:
        return self.sam.device

    def train(self, mode: bool = True) -> 'SegmentAnything':
        super().train(mode)
        self.sam.eval()
        return self

    def settings(self) -> dict:
        """What determines the masks (used as cache key)."""
        ckpt = None
        if self.checkpoint is not None:
            st = os.stat(self.checkpoint)
            ckpt = [os.path.abspath(self.checkpoint), st.st_size, int(st.st_mtime)]
        return dict(arch=self.arch, checkpoint=ckpt, amg_cfg=self.amg_cfg)

    # ------------------------------------------------------- automatic masks
    @property
    def mask_generator(self) -> 'SamAutomaticMaskGenerator':
        if self._amg is None:
            cls = IoUFirstMaskGenerator if self.iou_filter_first \
                else SamAutomaticMaskGenerator
            self._amg = cls(self.sam, **self.amg_cfg)
            self._amg.predictor.transform = self.transform
        return self._amg

    @torch.no_grad()
    def generate(self, img: np.ndarray) -> Dict[str, np.ndarray]:
        """Automatic masks of one image.

        Args:
            img: (H, W, 3) uint8 RGB.
        Returns:
            dict with ``masks`` (N, H, W) bool, ``scores`` (N,) predicted IoU,
            ``stability`` (N,), ``boxes`` (N, 4) xywh, in the generator's order.
        """
        records = self.mask_generator.generate(_check_image(img))
        h, w = img.shape[:2]
        if not records:
            return dict(
                masks=np.zeros((0, h, w), bool),
                scores=np.zeros(0, np.float32),
                stability=np.zeros(0, np.float32),
                boxes=np.zeros((0, 4), np.int64))
        return dict(
            masks=np.stack([r['segmentation'] for r in records]).astype(bool),
            scores=np.array([r['predicted_iou'] for r in records], np.float32),
            stability=np.array([r['stability_score'] for r in records], np.float32),
            boxes=np.array([r['bbox'] for r in records], np.int64))

    # ------------------------------------------------------------ prompting
    @torch.no_grad()
    def predict_points(self,
                       img: np.ndarray,
                       points: np.ndarray,
                       labels: np.ndarray,
                       multimask_output: bool = True) -> Dict[str, np.ndarray]:
        """One prompt set of N points: (N, 2) xy pixel coords, labels (N,) 1 fg/0 bg.

        Returns masks (M, H, W) bool, scores (M,), logits (M, 256, 256) where M is 3
        with ``multimask_output`` else 1.
        """
        self.predictor.set_image(_check_image(img), image_format='RGB')
        masks, scores, logits = self.predictor.predict(
            point_coords=np.asarray(points, np.float32),
            point_labels=np.asarray(labels),
            multimask_output=multimask_output)
        return dict(masks=masks, scores=scores, logits=logits)

    @torch.no_grad()
    def predict_boxes(self,
                      img: np.ndarray,
                      boxes: np.ndarray,
                      multimask_output: bool = False) -> Dict[str, np.ndarray]:
        """K box prompts (K, 4) xyxy in pixels, batched.

        Returns masks (K, M, H, W) bool and scores (K, M).
        """
        self.predictor.set_image(_check_image(img), image_format='RGB')
        boxes_t = torch.as_tensor(np.asarray(boxes, np.float32), device=self.device)
        boxes_t = self.transform.apply_boxes_torch(boxes_t, img.shape[:2])
        masks, scores, _ = self.predictor.predict_torch(
            point_coords=None, point_labels=None, boxes=boxes_t, multimask_output=multimask_output)
        return dict(masks=masks.cpu().numpy(), scores=scores.cpu().numpy())

    # ------------------------------------------------ batched torch images
    def resize_images(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) float 0-255 RGB -> (B, 3, H', W'), long side = encoder size."""
        return self.transform.apply_image_torch(images.float())

    @torch.no_grad()
    def image_embeddings(self, images: Tensor) -> Tensor:
        """(B, C_e, S/16, S/16) encoder features of (B, 3, H, W) 0-255 RGB images of
        one size (resized with the fixed torch transform, normalised, padded)."""
        x = self.sam.preprocess(self.resize_images(images.to(self.device)))
        return self.sam.image_encoder(x)
