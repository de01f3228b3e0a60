"""The WSSS data preprocessor: one place for image labels, the uint8 image and views.

On top of mmseg's ``SegDataPreProcessor`` (BGR -> RGB, padding to ``size``,
normalisation) it

* stacks the image labels once (:func:`~mmwsss.structures.stack_img_labels`);
* keeps the uint8 RGB picture of the batch for image-aware refiners (PAR, CRF)
  and the energy loss, instead of undoing the normalisation afterwards;
* pads the uint8 image with ``raw_pad_val`` (ToCo pads its crops with black,
  ``mean_rgb=[0, 0, 0]``, BEFORE its photometric augmentation), so padding
  goes through the same augmentation as the image;
* builds extra views on the device (ToCo: the main view's photometric
  augmentation, the second global view from the pipeline's
  ``RandomResizedCropView``, the local view the 96x96 crops are cut from; DuPL
  next: the strong view).

In training the output dict has a third key ``wsss`` (a
:class:`~mmwsss.structures.WSSSBatch`) that :class:`SingleStageWSSS` takes as
an argument; in val/test it returns exactly what mmseg's preprocessor returns.
"""
from typing import Dict, Optional, Sequence, Union

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.utils import stack_batch
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSBatch, stack_img_labels
from ..utils.image_norm import normalize

FLIP_MODES = ('main', 'own')


def valid_mask_from_samples(samples, size, device=None) -> Tensor:
    """(B, H, W) bool: True on each sample's ``img_shape`` region of a batch padded
    right/bottom to ``size`` (mmseg's ``stack_batch``), False on the padding."""
    h, w = size
    valid = torch.zeros(len(samples), h, w, dtype=torch.bool, device=device)
    for i, s in enumerate(samples):
        ih, iw = s.metainfo.get('img_shape', (h, w))[:2]
        valid[i, :ih, :iw] = True
    return valid


def _build(cfg: Union[None, dict, nn.Module]) -> Optional[nn.Module]:
    if cfg is None or isinstance(cfg, nn.Module):
        return cfg
    return MODELS.build(dict(cfg))


@MODELS.register_module()
class WSSSDataPreProcessor(SegDataPreProcessor):
    """mmseg's preprocessor plus image labels, the uint8 image and device-side views.

    Args:
        num_classes: number of foreground classes C of the image labels
            (None: do not stack labels).
        raw_pad_val: value of the padding in 0..255 image units (the
            normalised padding is its normalisation).
        main_view: optional photometric augmentation of the main training view
            (ToCo's ``global_view1``: ``dict(type='PhotometricView', ...)``).
        flip_valid_mask: flip the valid mask (img_box) with the main view's
            device flip (True, the intent: the box marks the real pixels).
            ToCo flips the image after the crop and keeps the box unflipped
            (False reproduces that quirk).
        views: ``{name: dict(source=..., aug=..., flip=...)}``: ``source`` is
            ``'img'`` (the padded crop, before the main view's augmentation),
            ``'main'`` (the main view after its augmentation: SEAM's and ACR's
            second views are made from the network input) or the name of a
            pipeline view in ``data_sample.views`` (packed by
            ``PackWSSSViews``); ``aug`` an optional augmentation module
            config or a list of them applied in order (DuPL's strong view:
            ``[StrongView, GeometricView(scale_factor=0.75)]``), whose flips
            are ``WSSSBatch.view_flips[name]``; ``flip``: ``'own'`` (the view
            draws its own flip, ToCo's code) or ``'main'`` (the view shares
            the main view's flip, so that crops placed by the main view's CAM
            land on the same content; only for ``source='img'``).
        Other args: as mmseg's ``SegDataPreProcessor``.
    """

    def __init__(self,
                 mean: Sequence[float] = None,
                 std: Sequence[float] = None,
                 size: Optional[tuple] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: float = 0,
                 seg_pad_val: float = 255,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 batch_augments: Optional[list] = None,
                 test_cfg: Optional[dict] = None,
                 num_classes: Optional[int] = None,
                 raw_pad_val: float = 0,
                 main_view: Optional[dict] = None,
                 flip_valid_mask: bool = True,
                 views: Optional[Dict[str, dict]] = None) -> None:
        super().__init__(
            mean=mean,
            std=std,
            size=size,
            size_divisor=size_divisor,
            pad_val=pad_val,
            seg_pad_val=seg_pad_val,
            bgr_to_rgb=bgr_to_rgb,
            rgb_to_bgr=rgb_to_bgr,
            batch_augments=batch_augments,
            test_cfg=test_cfg)
        self.num_classes = num_classes
        self.raw_pad_val = float(raw_pad_val)
        self.main_view = _build(main_view)
        self.flip_valid_mask = flip_valid_mask
        self.view_cfgs: Dict[str, dict] = {}
        augs = {}
        for name, cfg in (views or {}).items():
            cfg = dict(cfg)
            source = cfg.pop('source', 'img')
            flip = cfg.pop('flip', 'own')
            if flip not in FLIP_MODES:
                raise ValueError(f"view '{name}': flip must be one of {FLIP_MODES}, got {flip!r}")
            if flip == 'main' and source != 'img':
                raise ValueError(f"view '{name}': flip='main' needs source='img'")
            aug = cfg.pop('aug', None)
            if cfg:
                raise KeyError(f"view '{name}': unknown keys {sorted(cfg)}")
            chain = [] if aug is None else list(aug) if isinstance(aug, (list, tuple)) else [aug]
            if flip == 'main':
                # the main view's flip is applied instead
                chain = [
                    dict(a, flip_prob=0.0)
                    if 'flip_prob' in a or a.get('type') in ('PhotometricView', 'StrongView') else a
                    for a in chain
                ]
            augs[name] = nn.ModuleList([_build(a) for a in chain])
            self.view_cfgs[name] = dict(source=source, flip=flip)
        self.view_augs = nn.ModuleDict(augs)

    # -------------------------------------------------------------- helpers
    def _stats(self):
        if not self._enable_normalize:
            return None, None
        return self.mean.flatten().tolist(), self.std.flatten().tolist()

    def _to_rgb(self, x: Tensor) -> Tensor:
        return x[[2, 1, 0], ...] if self.channel_conversion and x.size(0) == 3 else x

    def _normalize(self, img: Tensor) -> Tensor:
        """0..255 images in the pipeline's (converted) order -> network inputs."""
        mean, std = self._stats()
        # image_norm.normalize takes RGB and flips when bgr_to_rgb is False; the
        # images here are already in the output order, so no flip.
        return normalize(img, mean, std, bgr_to_rgb=True)

    def _view_source(self, name: str, source: str, samples, padded: Tensor, main: Tensor) -> Tensor:
        if source == 'img':
            return padded
        if source == 'main':
            return main
        imgs = []
        for s in samples:
            views = s.get('views') if hasattr(s, 'get') else None
            if views is None or source not in views.keys():
                raise KeyError(f"view '{name}' needs pipeline view '{source}' in "
                               f"{s.metainfo.get('img_path', 'a data sample')}; add "
                               'RandomResizedCropView and PackWSSSViews to the pipeline')
            imgs.append(self._to_rgb(views[source]).to(padded.device).float())
        sizes = {tuple(i.shape) for i in imgs}
        if len(sizes) != 1:
            raise ValueError(f"view '{name}' has different sizes in one batch: {sorted(sizes)}")
        return torch.stack(imgs, 0)

    # -------------------------------------------------------------- forward
    def forward(self, data: dict, training: bool = False) -> dict:
        if not training:
            return super().forward(data, training)
        data = self.cast_data(data)
        samples = data.get('data_samples')
        if samples is None:
            raise KeyError('WSSSDataPreProcessor needs data_samples in training')
        raw = [self._to_rgb(x).float() for x in data['inputs']]
        padded, samples = stack_batch(
            raw,
            samples,
            size=self.size,
            size_divisor=self.size_divisor,
            pad_val=self.raw_pad_val,
            seg_pad_val=self.seg_pad_val)
        valid = valid_mask_from_samples(samples, padded.shape[-2:], padded.device)
        main = padded
        flipped = torch.zeros(padded.shape[0], dtype=torch.bool, device=padded.device)
        if self.main_view is not None:
            main, flipped = self.main_view(padded)
            flipped = flipped.to(padded.device)
            if self.flip_valid_mask:
                valid = torch.where(flipped[:, None, None], valid.flip(-1), valid)
        batch = WSSSBatch(
            img=main.round().clamp(0, 255).to(torch.uint8), valid_mask=valid, flipped=flipped)
        if self.num_classes is not None:
            batch.img_labels = stack_img_labels(samples, self.num_classes, padded.device)
        for name, cfg in self.view_cfgs.items():
            src = self._view_source(name, cfg['source'], samples, padded, main)
            if cfg['flip'] == 'main':
                src = torch.where(flipped[:, None, None, None], src.flip(-1), src)
            view = src
            flips = flipped.clone() if cfg['flip'] == 'main' else torch.zeros_like(flipped)
            for aug in self.view_augs[name]:
                out = aug(view)
                view = out[0] if isinstance(out, tuple) else out
                if isinstance(out, tuple):
                    flips = flips ^ out[1].to(flips.device)
            batch.view_flips[name] = flips
            batch.view_imgs[name] = view.round().clamp(0, 255).to(torch.uint8)
            batch.views[name] = self._normalize(view)
        inputs = self._normalize(main)
        if self.batch_augments is not None:
            inputs, samples = self.batch_augments(inputs, samples)
        return dict(inputs=inputs, data_samples=samples, wsss=batch)
