"""BECO's boundary-enhanced ClassMix (``datasets/transforms/imgmix.py``), a batch mixer
of :class:`~mmwsss.models.segmentors.SingleStageWSSS` (``batch_mixers=[...]``).

A batch mixer runs at the start of the segmentor's ``loss()``, before any branch,
as ``mixer(model, inputs, wsss_batch, data_samples) -> (inputs, wsss_batch,
data_samples)``, so it may use the model's current predictions.

BECO pairs sample ``i`` of the first half of the batch with sample ``i`` of the second
half, in both directions. With probability ``prob`` the sample gets a random half
(rounded up) of its partner's foreground classes pasted on it (ClassMix):

* warm-up (BECO's first epoch): the classes and their pixels come from the partner's
  offline pseudo label; label and confidence mask are mixed with the same paste mask
  ``alpha``; the boundary map is 0;
* afterwards: both networks predict the *unmixed* batch (eval mode, no gradient;
  logits averaged, softmax), ``online label = argmax``, ``online mask = max > 0.95``;
  the pasted classes are drawn among the partner's confident online pixels, the mixed
  sample takes the *online* label and mask (mixed by ``alpha``), and its boundary map
  is ``dilate(alpha) - erode(alpha)`` with a (2 * size + 1)^2 kernel.

Samples that are not mixed keep their offline label and mask and a zero boundary.
Then every sample (mixed or not) gets the photometric augmentation
(:class:`~mmwsss.models.data_preprocessors.AlbuPhotometric`).

The mixed labels, masks and boundary maps are written to copies of the data samples
(``gt_sem_seg``, ``gt_conf_mask``, ``gt_boundary``), which label sources read
(:class:`~mmwsss.models.label_sources.SampleFieldSource`).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor, nn

from mmwsss.registry import MODELS
from ..utils.cam import IGNORE_INDEX
from ..utils.image_norm import normalize, preprocessor_stats
from ..utils.schedules import build_schedule

__all__ = [
    'BECOClassMix', 'boundary_map', 'random_class_mask', 'class_mix_pairs', 'online_prediction'
]


def boundary_map(alpha: Tensor, size: int = 1) -> Tensor:
    """``dilate(alpha) - erode(alpha)`` with a square (2 * size + 1) kernel
    (``imgmix.py: getBoundry``, cv2 morphology with its default borders: outside the
    image counts as neither set nor unset, so the border does not erode).

    Args:
        alpha: (H, W) or (B, H, W) binary paste mask.
        size: half width of the kernel (BECO ``bdry_size`` = 1: 3x3).
    Returns:
        the same shape, float 0/1: 1 on the band around the paste mask's edges.
    """
    x = alpha.float()
    squeeze = x.dim() == 2
    if squeeze:
        x = x[None]
    k = 2 * size + 1
    dil = F.max_pool2d(x[:, None], k, stride=1, padding=size)[:, 0]
    ero = -F.max_pool2d(-x[:, None], k, stride=1, padding=size)[:, 0]
    out = dil - ero
    return out[0] if squeeze else out


def random_class_mask(label: Tensor,
                      ignore: Sequence[int] = (IGNORE_INDEX, 0),
                      generator: Optional[torch.Generator] = None) -> Tensor:
    """ClassMix paste mask: a random half (rounded up) of the classes in ``label``.

    ``imgmix.py: random_cls_mask``: the classes present (without ``ignore``; BECO's
    ``ignore_bg=True`` also leaves out the background 0), ``ceil(n / 2)`` of them
    drawn without replacement; the mask is 1 where ``label`` is one of them.

    Args:
        label: (H, W) long.
        ignore: class values never pasted.
        generator: torch RNG (the official code draws with numpy).
    Returns:
        (H, W) long 0/1 paste mask ``alpha``.
    """
    classes = torch.unique(label)
    for v in ignore:
        classes = classes[classes != v]
    n = classes.numel()
    num = (n + n % 2) // 2
    if num == 0:
        return torch.zeros_like(label, dtype=torch.long)
    pick = classes[torch.randperm(n, generator=generator)[:num].to(classes.device)]
    return torch.isin(label, pick).long()


def class_mix_pairs(num: int) -> List[Tuple[int, int]]:
    """(sample, partner) pairs in the official draw order: for i in the first half,
    (i, i + num/2) then (i + num/2, i)."""
    if num % 2:
        raise ValueError(f'BECO class mix pairs the batch halves: batch size must be even, '
                         f'got {num}')
    half = num // 2
    pairs = []
    for i in range(half):
        pairs += [(i, i + half), (i + half, i)]
    return pairs


@torch.no_grad()
def online_prediction(branches: Sequence[nn.Module],
                      inputs: Tensor,
                      thr: float = 0.95,
                      align_corners: bool = False) -> Tuple[Tensor, Tensor]:
    """BECO's online label and mask: both nets in eval mode, no gradient, the mean of
    their input-size logits, softmax, ``label = argmax``, ``mask = max prob > thr``.

    Args:
        branches: :class:`~mmwsss.models.segmentors.WSSSBranch` modules.
        inputs: (B, 3, H, W) normalised images.
        thr: confidence threshold (BECO ``highres_t`` 0.95).
    Returns:
        ``label`` (B, H, W) long and ``mask`` (B, H, W) long 0/1.
    """
    modes = [b.training for b in branches]
    try:
        for b in branches:
            b.eval()
        logits = 0
        for b in branches:
            out = b.seg_forward(b.extract_feat(inputs))
            logits = logits + F.interpolate(
                out, size=inputs.shape[-2:], mode='bilinear', align_corners=align_corners)
        logits = logits / len(branches)
    finally:
        for b, m in zip(branches, modes):
            b.train(m)
    prob, label = logits.softmax(1).max(1)
    return label, (prob > thr).long()


def _stack_field(samples, key: str) -> Tensor:
    out = []
    for s in samples:
        if key not in s:
            raise KeyError(f"BECO class mix needs '{key}' in every data sample "
                           f"({s.metainfo.get('img_path', 'a sample')} has none): load it "
                           'in the pipeline (LoadConfidenceMask, PackWSSSInputs maps)')
        out.append(getattr(s, key).data[0])
    return torch.stack(out)


@MODELS.register_module()
class BECOClassMix(nn.Module):
    """BECO's boundary-enhanced ClassMix + photometric augmentation, as a batch mixer.

    Args:
        prob: probability of mixing each sample (``mix_prob`` 0.5).
        ignore_bg: never paste the background (``ignore_bg`` True).
        boundary_size: half width of the boundary kernel (``bdry_size`` 1).
        online_thr: confidence of the online mask (``highres_t`` 0.95).
        online: schedule (TASK_UTILS) whose value > 0 switches to the online labels;
            BECO's ``warm_up = 1`` epoch is ``dict(type='StepOn', start=iters_per_epoch,
            strict=False)`` (on from the first iteration of epoch 1).
        branches: the two networks whose averaged prediction is the online label.
        photometric: augmentation config applied after mixing (None: off).
        label_key / mask_key / boundary_key: data-sample fields read and written.
    """

    def __init__(self,
                 prob: float = 0.5,
                 ignore_bg: bool = True,
                 boundary_size: int = 1,
                 online_thr: float = 0.95,
                 online: Optional[Union[dict, float]] = None,
                 branches: Sequence[str] = ('b1', 'b2'),
                 photometric: Optional[dict] = dict(type='AlbuPhotometric'),
                 label_key: str = 'gt_sem_seg',
                 mask_key: str = 'gt_conf_mask',
                 boundary_key: str = 'gt_boundary') -> None:
        super().__init__()
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = float(prob)
        self.ignore = (IGNORE_INDEX, 0) if ignore_bg else (IGNORE_INDEX, )
        self.boundary_size = int(boundary_size)
        self.online_thr = float(online_thr)
        self.online = build_schedule(online if online is not None else 0.0)
        self.branch_names = tuple(branches)
        self.photometric = MODELS.build(photometric) if isinstance(photometric,
                                                                   dict) else photometric
        self.label_key, self.mask_key, self.boundary_key = label_key, mask_key, boundary_key
        self.generator: Optional[torch.Generator] = None  # tests pin the draws with it

    def mix(self,
            imgs: Tensor,
            labels: Tensor,
            masks: Tensor,
            online: Optional[Tuple[Tensor, Tensor]] = None) -> Dict[str, Tensor]:
        """Mix a batch (plain tensors; the testable core).

        Args:
            imgs: (B, 3, H, W) float images (any normalisation: the mix is a per-pixel
                choice).
            labels / masks: (B, H, W) long offline labels / confidence masks.
            online: ``(label, mask)`` (B, H, W) long online prediction, or None
                (warm-up).
        Returns:
            dict of ``img``, ``label``, ``mask`` (long) and ``boundary`` (float) and
            ``mixed`` ((B,) bool).
        """
        b = imgs.shape[0]
        out_img, out_lab, out_mask = imgs.clone(), labels.clone(), masks.clone()
        bdry = torch.zeros(labels.shape, dtype=torch.float32, device=labels.device)
        mixed = torch.zeros(b, dtype=torch.bool, device=labels.device)
        for i, j in class_mix_pairs(b):
            if float(torch.rand((), generator=self.generator)) >= self.prob:
                continue
            if online is None:
                alpha = random_class_mask(labels[j], self.ignore, self.generator)
                lab_i, lab_j, m_i, m_j = labels[i], labels[j], masks[i], masks[j]
            else:
                lab_ol, mask_ol = online
                source = torch.where(mask_ol[j].bool(), lab_ol[j],
                                     torch.full_like(lab_ol[j], IGNORE_INDEX))
                alpha = random_class_mask(source, self.ignore, self.generator)
                bdry[i] = boundary_map(alpha, self.boundary_size)
                lab_i, lab_j, m_i, m_j = lab_ol[i], lab_ol[j], mask_ol[i], mask_ol[j]
            a = alpha.to(imgs.dtype)
            out_img[i] = imgs[i] * (1 - a) + imgs[j] * a
            out_lab[i] = lab_i * (1 - alpha) + lab_j * alpha
            out_mask[i] = m_i * (1 - alpha) + m_j * alpha
            mixed[i] = True
        return dict(img=out_img, label=out_lab, mask=out_mask, boundary=bdry, mixed=mixed)

    def forward(self, model: nn.Module, inputs: Tensor, wsss, data_samples):
        labels = _stack_field(data_samples, self.label_key).long().to(inputs.device)
        masks = _stack_field(data_samples, self.mask_key).long().to(inputs.device)
        if labels.shape[-2:] != inputs.shape[-2:]:
            raise ValueError(f'labels {tuple(labels.shape[-2:])} and inputs '
                             f'{tuple(inputs.shape[-2:])} differ in size: BECO crops without '
                             'padding (RandomResizedCropSeg)')
        it = model._current_iter() if hasattr(model, '_current_iter') else 0
        online = None
        if float(self.online(it)) > 0:
            branches = [model.branches[n] for n in self.branch_names]
            online = online_prediction(branches, inputs, self.online_thr,
                                       getattr(model, 'align_corners', False))
        stats = preprocessor_stats(model.data_preprocessor)
        # mix the uint8 RGB picture of the inputs, then augment and re-normalise
        out = self.mix(wsss.img.float(), labels, masks, online)
        img = out['img']
        if self.photometric is not None:
            img = self.photometric(img)
            img = img[0] if isinstance(img, tuple) else img
        img = img.round().clamp(0, 255)
        inputs = normalize(img, **stats).to(inputs.dtype)
        wsss.img = img.to(torch.uint8)
        samples = []
        for k, s in enumerate(data_samples):
            s = s.clone()
            s.set_field(PixelData(data=out['label'][k][None]), self.label_key)
            s.set_field(PixelData(data=out['mask'][k][None]), self.mask_key)
            s.set_field(PixelData(data=out['boundary'][k][None]), self.boundary_key)
            samples.append(s)
        return inputs, wsss, samples
