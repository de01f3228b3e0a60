"""CARB's segmentation head: DeepLab-v2 ASPP + a frozen CLIP text classifier, and the
frozen CLIP (MaskCLIP dense features) that writes its pseudo masks.

CARB (Kim, Lee, Choe, Shim, "Weakly supervised semantic segmentation for driving
scenes", AAAI'24; official ``mmseg/models/decode_heads/carb_head.py::CARBHead``):

* logits = ``conv2d(sum_d ASPP_d(x), T[:, :, None, None])`` where ``T`` (K, E) are the
  CLIP text embeddings of the K classes (85 prompt templates averaged) and the ASPP
  branches (3x3, dilations 6/12/18/24, conv + BN + ReLU, ``channels`` = E) are summed
  (``ASPPHeadV2.forward_module``). No bias, no feature normalisation.
* CLIP pseudo mask of an image ``I`` (``gen_clip_mask``):
  ``argmax_c [cos(MaskCLIP(I), T_c) * y_c]`` after a bilinear upsampling of the scores to
  the target size (:func:`clip_pseudo_mask`).

The head owns the CLIP (as the official head does), so the text embeddings of the
classifier and of the mask generator are one buffer. The CLIP is frozen and stays in
eval mode; it is used for the training labels only (the test path is ASPP + classifier).
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.logging import print_log
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmwsss.registry import MODELS
from ..foundation.maskclip import maskclip_features
from ..foundation.open_clip_model import CLIP_MEAN, CLIP_STD

# CARB's prompt_engineering.py: the 80 ImageNet templates of CLIP plus five scene ones.
CARB_TEMPLATES: Tuple[str, ...] = (
    'a bad photo of a {}.', 'a photo of many {}.', 'a sculpture of a {}.',
    'a photo of the hard to see {}.', 'a low resolution photo of the {}.', 'a rendering of a {}.',
    'graffiti of a {}.', 'a bad photo of the {}.', 'a cropped photo of the {}.',
    'a tattoo of a {}.', 'the embroidered {}.', 'a photo of a hard to see {}.',
    'a bright photo of a {}.', 'a photo of a clean {}.', 'a photo of a dirty {}.',
    'a dark photo of the {}.', 'a drawing of a {}.', 'a photo of my {}.', 'the plastic {}.',
    'a photo of the cool {}.', 'a close-up photo of a {}.', 'a black and white photo of the {}.',
    'a painting of the {}.', 'a painting of a {}.', 'a pixelated photo of the {}.',
    'a sculpture of the {}.', 'a bright photo of the {}.', 'a cropped photo of a {}.',
    'a plastic {}.', 'a photo of the dirty {}.', 'a jpeg corrupted photo of a {}.',
    'a blurry photo of the {}.', 'a photo of the {}.', 'a good photo of the {}.',
    'a rendering of the {}.', 'a {} in a video game.', 'a photo of one {}.', 'a doodle of a {}.',
    'a close-up photo of the {}.', 'a photo of a {}.', 'the origami {}.', 'the {} in a video game.',
    'a sketch of a {}.', 'a doodle of the {}.', 'a origami {}.', 'a low resolution photo of a {}.',
    'the toy {}.', 'a rendition of the {}.', 'a photo of the clean {}.', 'a photo of a large {}.',
    'a rendition of a {}.', 'a photo of a nice {}.', 'a photo of a weird {}.',
    'a blurry photo of a {}.', 'a cartoon {}.', 'art of a {}.', 'a sketch of the {}.',
    'a embroidered {}.', 'a pixelated photo of a {}.', 'itap of the {}.',
    'a jpeg corrupted photo of the {}.', 'a good photo of a {}.', 'a plushie {}.',
    'a photo of the nice {}.', 'a photo of the small {}.', 'a photo of the weird {}.',
    'the cartoon {}.', 'art of the {}.', 'a drawing of the {}.', 'a photo of the large {}.',
    'a black and white photo of a {}.', 'the plushie {}.', 'a dark photo of a {}.', 'itap of a {}.',
    'graffiti of the {}.', 'a toy {}.', 'itap of my {}.', 'a photo of a cool {}.',
    'a photo of a small {}.', 'a tattoo of the {}.', 'there is a {} in the scene.',
    'there is the {} in the scene.', 'this is a {} in the scene.', 'this is the {} in the scene.',
    'this is one {} in the scene.')

# ``--class-set city_carb``: the Cityscapes train classes in train-id order, three renamed
# (vegetation -> tree, terrain -> grass, person -> pedestrian).
CARB_CITYSCAPES_NAMES: Tuple[str, ...] = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
                                          'traffic light', 'traffic sign', 'tree', 'grass', 'sky',
                                          'pedestrian', 'rider', 'car', 'truck', 'bus', 'train',
                                          'motorcycle', 'bicycle')

LABEL_MASK_MODES = ('multiply', 'restrict')


def clip_pseudo_mask(scores: Tensor,
                     img_labels: Tensor,
                     size: Sequence[int],
                     label_mask: str = 'multiply',
                     align_corners: bool = False) -> Tensor:
    """CARB's ``gen_clip_mask`` on precomputed cosine scores.

    Args:
        scores: (B, K, h, w) cosine between MaskCLIP features and the K text embeddings.
        img_labels: (B, K) multi-hot image labels.
        size: (H, W) of the mask; the (masked) scores are upsampled bilinearly to it.
        label_mask: ``'multiply'`` (official): ``scores * y`` then argmax, so an absent
            class scores 0 and wins where every present class has a negative cosine;
            ``'restrict'``: the argmax runs over the present classes only (absent ones
            at -inf), the evident intent.
        align_corners: of the upsampling (the head's, official False).
    Returns:
        (B, H, W) long class indices.
    """
    if label_mask not in LABEL_MASK_MODES:
        raise ValueError(f'label_mask must be one of {LABEL_MASK_MODES}, got {label_mask!r}')
    y = img_labels.to(scores.dtype)[:, :, None, None]
    masked = scores * y
    masked = F.interpolate(masked, size=tuple(size), mode='bilinear', align_corners=align_corners)
    if label_mask == 'restrict':
        # -inf after the resize: bilinear weights would turn -inf into nan
        absent = (img_labels <= 0)[:, :, None, None].expand_as(masked)
        masked = masked.masked_fill(absent, float('-inf'))
    return masked.argmax(1)


def self_pseudo_mask(seg_logits: Tensor,
                     img_labels: Tensor,
                     label_mask: str = 'multiply') -> Tensor:
    """CARB's self label ``argmax_c (logit_c * y_c)`` (B, K, H, W) -> (B, H, W) long
    (``'restrict'``: argmax over present classes only, see :func:`clip_pseudo_mask`)."""
    if label_mask not in LABEL_MASK_MODES:
        raise ValueError(f'label_mask must be one of {LABEL_MASK_MODES}, got {label_mask!r}')
    y = img_labels.to(seg_logits.dtype)[:, :, None, None]
    masked = seg_logits * y
    if label_mask == 'restrict':
        masked = masked.masked_fill((y <= 0).expand_as(masked), float('-inf'))
    return masked.argmax(1)


@MODELS.register_module()
class CARBHead(BaseDecodeHead):
    """ASPP-v2 (summed branches) + CLIP text classifier, with CARB's CLIP mask generator.

    Args:
        in_channels: channels of the ``in_index`` backbone level (ResNet-50: 2048).
        channels: ASPP width; must equal the CLIP embedding width E (ViT-B/16: 512).
        num_classes: K; ``len(class_names)``.
        clip: :class:`OpenCLIP` config (frozen; ViT-B-16 with the OpenAI weights).
        class_names: the K prompt names (Cityscapes: :data:`CARB_CITYSCAPES_NAMES`).
        templates: prompt templates averaged per class (:data:`CARB_TEMPLATES`).
        text_embeddings: optional path of a saved (K, E) tensor (CARB's
            ``pretrain/city_carb_ViT16_clip_text.pth``) used instead of encoding the
            prompts with ``clip``'s text tower.
        dilations: ASPP dilations (DeepLab-v2: 6, 12, 18, 24).
        pos_interp: positional-embedding resize of the CLIP ('bicubic' as CARB's mmseg
            ViT; 'bilinear' as CLIP-ES).
        clip_input: ``'inputs'`` (official): CLIP reads the network input as it is
            (ImageNet-normalised); ``'clip'``: the input is re-normalised with CLIP's
            statistics first (``input_mean``/``input_std`` = the data preprocessor's).
        label_mask: how image labels mask the CLIP scores (:func:`clip_pseudo_mask`).
        background: prepend an always-present background channel to the (B, C) image
            labels (VOC-layout data with a background class 0; CARB itself has none).
        input_mean / input_std: the data preprocessor's statistics (0-255 units), for
            ``clip_input='clip'``.
        **kwargs: :class:`BaseDecodeHead` (``in_index``, ``norm_cfg``, ``align_corners``,
            ``loss_decode``...).

    Shapes: inputs -> (B, K, h, w) logits at the backbone stride.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 num_classes: int,
                 clip: dict,
                 class_names: Sequence[str] = CARB_CITYSCAPES_NAMES,
                 templates: Sequence[str] = CARB_TEMPLATES,
                 text_embeddings: Optional[str] = None,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 pos_interp: str = 'bicubic',
                 clip_input: str = 'inputs',
                 label_mask: str = 'multiply',
                 background: bool = False,
                 input_mean: Sequence[float] = (123.675, 116.28, 103.53),
                 input_std: Sequence[float] = (58.395, 57.12, 57.375),
                 dropout_ratio: float = 0.0,
                 norm_cfg: Optional[dict] = dict(type='SyncBN', requires_grad=True),
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if len(class_names) != num_classes:
            raise ValueError(f'CARBHead: {len(class_names)} class_names for num_classes='
                             f'{num_classes}')
        if clip_input not in ('inputs', 'clip'):
            raise ValueError(f"clip_input must be 'inputs' or 'clip', got {clip_input!r}")
        if label_mask not in LABEL_MASK_MODES:
            raise ValueError(f'label_mask must be one of {LABEL_MASK_MODES}, got {label_mask!r}')
        # BaseDecodeHead's default names 'CrossEntropyLoss' without a scope, which only
        # resolves when mmseg happens to be the default scope: name it explicitly.
        kwargs.setdefault('loss_decode', dict(type='mmseg.CrossEntropyLoss', loss_weight=1.0))
        super().__init__(
            in_channels=in_channels,
            channels=channels,
            num_classes=num_classes,
            dropout_ratio=dropout_ratio,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
            **kwargs)
        del self.conv_seg  # the classifier is the frozen text embedding
        self.aspp = nn.ModuleList([
            ConvModule(
                self.in_channels,
                channels,
                1 if d == 1 else 3,
                dilation=d,
                padding=0 if d == 1 else d,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg) for d in dilations
        ])
        self.clip = MODELS.build(clip)
        self.class_names = list(class_names)
        self.pos_interp = pos_interp
        self.clip_input = clip_input
        self.label_mask = label_mask
        self.background = background
        self.register_buffer('input_mean', torch.tensor(input_mean).view(1, 3, 1, 1), False)
        self.register_buffer('input_std', torch.tensor(input_std).view(1, 3, 1, 1), False)
        self.templates = list(templates)
        # The prompts are encoded lazily (init_weights / first use): 19 x 85 prompts through
        # the ViT-B/16 text tower take minutes on a CPU, and a checkpoint carries the buffer.
        self.register_buffer('text_embeddings', torch.zeros(num_classes, channels))
        self.register_buffer('text_ready', torch.tensor(False))
        if text_embeddings is not None:
            self._set_text_embeddings(self._load_text_embeddings(text_embeddings))

    def _set_text_embeddings(self, emb: Tensor) -> None:
        expected = tuple(self.text_embeddings.shape)
        if tuple(emb.shape) != expected:
            raise ValueError(f'text embeddings have shape {tuple(emb.shape)}, expected '
                             f'{expected} (num_classes, channels)')
        self.text_embeddings.copy_(emb.float())
        self.text_ready.fill_(True)

    @torch.no_grad()
    def encode_text_embeddings(self) -> Tensor:
        """(K, E) text classifier; the prompts are encoded with the CLIP text tower on
        the first call (per class: templates averaged, CLIP's zero-shot classifier)."""
        if not bool(self.text_ready):
            self._set_text_embeddings(
                self.clip.class_embeddings(self.class_names,
                                           self.templates).to(self.text_embeddings.device))
        return self.text_embeddings

    def init_weights(self) -> None:
        super().init_weights()
        self.encode_text_embeddings()

    @staticmethod
    def _load_text_embeddings(path: str) -> Tensor:
        try:
            emb = torch.load(path, map_location='cpu')
        except FileNotFoundError as e:
            raise FileNotFoundError(f'CARB text embeddings not found: {path}') from e
        if not isinstance(emb, Tensor) or emb.dim() != 2:
            raise ValueError(f'{path}: expected a saved (K, E) tensor of text embeddings')
        print_log(f'CARBHead: text embeddings loaded from {path}', logger='current')
        return emb

    # ---------------------------------------------------------------- segmentation
    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        x = self._transform_inputs(inputs)
        feat = sum(branch(x) for branch in self.aspp)
        if self.dropout is not None:
            feat = self.dropout(feat)
        text = self.encode_text_embeddings()
        return F.conv2d(feat, text[:, :, None, None].to(feat.dtype))

    # ------------------------------------------------------------------ CLIP masks
    def full_labels(self, img_labels: Tensor) -> Tensor:
        """(B, K) labels over the head's classes: a 1 is prepended with ``background``."""
        given = img_labels.shape[1]
        if given + int(self.background) != self.num_classes:
            raise ValueError(f'image labels have {given} classes; the head expects '
                             f'{self.num_classes - int(self.background)} '
                             f'(num_classes={self.num_classes}, background={self.background})')
        if self.background:
            img_labels = torch.cat([img_labels.new_ones(img_labels.shape[0], 1), img_labels], 1)
        return img_labels

    def clip_image(self, inputs: Tensor) -> Tensor:
        """The CLIP input from the (normalised) network input, see ``clip_input``."""
        if self.clip_input == 'inputs':
            return inputs
        mean = inputs.new_tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = inputs.new_tensor(CLIP_STD).view(1, 3, 1, 1)
        return (inputs * self.input_std + self.input_mean - mean) / std

    @torch.no_grad()
    def clip_scores(self, img: Tensor) -> Tensor:
        """(B, K, h, w) cosine of MaskCLIP features and the text embeddings."""
        feats = maskclip_features(self.clip, img, self.pos_interp, normalize=True)
        text = self.encode_text_embeddings()
        return torch.einsum('bchw,kc->bkhw', feats, text.to(feats.dtype))

    @torch.no_grad()
    def clip_mask(self, img: Tensor, size: Sequence[int], img_labels: Tensor) -> Tensor:
        """(B, H, W) CLIP pseudo mask of a CLIP input ``img`` (:meth:`clip_image`),
        ``img_labels`` (B, C) as in the batch (background added here)."""
        return clip_pseudo_mask(
            self.clip_scores(img), self.full_labels(img_labels), size, self.label_mask,
            self.align_corners)
