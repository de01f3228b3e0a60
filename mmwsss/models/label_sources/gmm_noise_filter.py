"""DuPL's GMM noise filter of pseudo labels (Wu et al., CVPR'24).

From iteration ``gmm_iters`` (8000 on VOC) DuPL (``train_final_voc.py``) looks,
per image, at the per-pixel cross-entropy of a branch's segmentation against
that branch's OWN PAR label: on the foreground pixels whose loss exceeds 0.1
(if there are more than 1000 of them) it fits a two-component 1-D Gaussian
mixture (scikit-learn, ``GaussianMixture(2, max_iter=10, tol=1e-2,
reg_covar=5e-4, random_state=0)``). When the two means are more than 1.0
apart, the foreground pixels whose posterior of the higher-mean ("noisy")
component exceeds gamma = 0.95 are set to 255 in that label, and the filtered
label then supervises the OTHER branch (cross supervision).

:func:`gmm_noise_mask` is the rule on one image; :class:`GMMNoiseFilter` is the
label source that applies it to a named label with a named branch's logits.
"""
from typing import Optional, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from ..utils.cam import IGNORE_INDEX
from ..utils.schedules import Schedule, build_schedule


def gmm_noise_mask(pixel_loss: Tensor,
                   label: Tensor,
                   loss_thr: float = 0.1,
                   min_pixels: int = 1000,
                   mean_gap: float = 1.0,
                   gamma: float = 0.95,
                   max_iter: int = 10,
                   tol: float = 1e-2,
                   reg_covar: float = 5e-4,
                   random_state: int = 0,
                   ignore_index: int = IGNORE_INDEX) -> Tensor:
    """The noisy foreground pixels of one image's pseudo label.

    Steps (DuPL ``train_final_voc.py``, "Use GMM to filter noise labels"):

    1. fg = label not in {0, ignore}; x = pixel_loss[fg]; keep x > ``loss_thr``;
    2. if more than ``min_pixels`` values are kept, fit
       ``GaussianMixture(2, max_iter, tol, reg_covar, random_state)`` on them
       (float32, as the official ``.numpy()`` of the loss);
    3. if ``|mu_0 - mu_1| > mean_gap``: noisy = fg pixels whose posterior of
       the component with the larger mean is > ``gamma``.

    The official code evaluates the posterior on every pixel and then keeps
    the ones with label != 0; the ignore pixels are already 255, so that is
    the same set as the fg pixels used here.

    Args:
        pixel_loss: (H, W) per-pixel CE of the branch's seg logits against
            ``label`` (0 at ignored pixels).
        label: (H, W) long pseudo label, 0 bg, 255 ignore.
        loss_thr, min_pixels, mean_gap, gamma: DuPL's 0.1, 1000,
            ``gmm_valid_thre`` 1.0 and ``gamma`` 0.95.
        max_iter, tol, reg_covar, random_state: of sklearn's GaussianMixture.
    Returns:
        (H, W) bool mask of the pixels to set to ``ignore_index``.
    """
    from sklearn.mixture import GaussianMixture

    if pixel_loss.shape != label.shape or pixel_loss.dim() != 2:
        raise ValueError(f'gmm_noise_mask: pixel_loss {tuple(pixel_loss.shape)} and label '
                         f'{tuple(label.shape)} must be the same (H, W)')
    fg = (label != 0) & (label != ignore_index)
    noisy = torch.zeros_like(fg)
    loss_fg = pixel_loss.detach()[fg]
    keep = loss_fg > loss_thr
    if int(keep.sum()) <= min_pixels:
        return noisy
    gmm = GaussianMixture(
        n_components=2, max_iter=max_iter, tol=tol, reg_covar=reg_covar, random_state=random_state)
    gmm.fit(loss_fg[keep].float().cpu().numpy()[:, None])
    means = gmm.means_[:, 0]
    if not abs(means[0] - means[1]) > mean_gap:
        return noisy
    high = int(np.argmax(gmm.means_))
    prob = gmm.predict_proba(loss_fg.float().cpu().numpy()[:, None])[:, high]
    noisy[fg] = torch.from_numpy(prob > gamma).to(noisy.device)
    return noisy


@MODELS.register_module()
class GMMNoiseFilter(BaseModule):
    """Pseudo label ``label`` with GMM-detected noisy fg pixels set to 255.

    Per image: the per-pixel CE of ``branch``'s seg logits (bilinearly resized
    to the label, ``align_corners=False``, detached) against ``label``, then
    :func:`gmm_noise_mask`. While ``schedule(iter)`` is 0 the label is passed
    through unchanged (DuPL filters from ``n_iter >= gmm_iters``:
    ``dict(type='StepOn', start=8000, strict=False)``).

    DuPL layout: ``l1_gmm = GMMNoiseFilter(branch='b1', label='l1')`` (b1's own
    PAR label, filtered with b1's loss) supervises branch b2, and vice versa. It
    must run after its source: label sources run in config order, and a dumped
    config (the copy in work_dirs) sorts their names, hence ``l1`` < ``l1_gmm``.

    Args:
        branch: the branch whose seg logits give the pixel losses.
        label: the pseudo label to filter (that branch's own label).
        schedule: when the filter is on (None: always).
        loss_thr, min_pixels, mean_gap, gamma, max_iter, tol, reg_covar,
            random_state: see :func:`gmm_noise_mask` (DuPL's defaults).
            ``min_pixels`` counts pixels of the label: scale it with the crop
            area when the crop is not 448 x 448.
    """

    def __init__(self,
                 branch: str,
                 label: str,
                 schedule: Optional[Union[dict, Schedule, float]] = None,
                 loss_thr: float = 0.1,
                 min_pixels: int = 1000,
                 mean_gap: float = 1.0,
                 gamma: float = 0.95,
                 max_iter: int = 10,
                 tol: float = 1e-2,
                 reg_covar: float = 5e-4,
                 random_state: int = 0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.branch, self.label = branch, label
        self.schedule = build_schedule(schedule)
        self.gmm_cfg = dict(
            loss_thr=loss_thr,
            min_pixels=min_pixels,
            mean_gap=mean_gap,
            gamma=gamma,
            max_iter=max_iter,
            tol=tol,
            reg_covar=reg_covar,
            random_state=random_state)

    def multi_scale_requests(self):
        return []

    def pseudo_inputs(self) -> Tuple[str, ...]:
        """The pseudo labels this source reads (the segmentor runs their sources first)."""
        return (self.label, )

    @torch.no_grad()
    def forward(self, ctx: TrainContext) -> Tensor:
        """(B, H, W) long: ``ctx.pseudo[label]`` with the noisy pixels at 255."""
        label = ctx.require('pseudo', self.label)
        if float(self.schedule(ctx.iter)) == 0.0:
            return label
        out = ctx.require('branches', self.branch)
        if out.seg_logits is None:
            raise KeyError(f"GMMNoiseFilter: branch '{self.branch}' has no seg logits")
        logits = F.interpolate(
            out.seg_logits.detach().float(),
            size=label.shape[-2:],
            mode='bilinear',
            align_corners=False)
        loss = F.cross_entropy(logits, label.long(), ignore_index=IGNORE_INDEX, reduction='none')
        filtered = label.clone()
        for i in range(label.shape[0]):
            noisy = gmm_noise_mask(loss[i], label[i], **self.gmm_cfg)
            filtered[i][noisy] = IGNORE_INDEX
        return filtered
