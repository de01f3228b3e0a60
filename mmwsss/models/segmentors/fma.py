"""FMA (Yang & Gong, WACV'24, "Foundation Model Assisted WSSS"): the two prompt tasks on
a frozen CLIP ViT-B/16 and their CAM inference.

Per batch (official ``coop/custom_clips/cam_clips.py::GradCAMCLIP``):
1. text features of G = C fg + C_bg bg learned prompts (:class:`PromptLearner`; the cls
   task: CoOp '{ctx} {name}.' with one shared context; the seg task: '{name} {ctx}.'
   with class-specific contexts and empty bg names);
2. image: blocks 0..L-2 of the frozen CLIP; the last block from ``ln_1``'s output ``A``
   (the Grad-CAM target); image embedding = mean of the ``ln_post`` patch tokens @ proj
   (the CLIP-ES head); ``logits = logit_scale.exp() * cos(img, text)`` (N, G);
3. ``sm_fg_exist``: softmax over [present fg + all bg] (absent fg classes masked out);
4. differentiable Grad-CAM of every positive's probability p:
   ``cam = sum_d mean_hw(dp/dA_d) * A_d`` with ``A`` detached and the gradient taken with
   ``create_graph=True`` (so the CAM is differentiable w.r.t. the prompts), no ReLU;
5. losses: :class:`~mmwsss.models.losses.fma_loss.MultiLabelCLLoss` on the fg logits
   (cls task), :class:`~mmwsss.models.losses.fma_loss.CAMIntensityLoss` of the CAMs
   against the seed labels (``gt_sem_seg``, seg task).

Inference (``predict``, per image, CLIP-ES input size): the same Grad-CAM, then FMA's
CAA (:func:`~mmwsss.models.foundation.fma.fma_caa`: Sinkhorn rounds, matrix power, box
threshold, applied at the score or at the CAM), bilinear to the original size, clamped at
0 and min-max normalised per class. SAMS seeding is a refiner of the pseudo-label chain
(:class:`~mmwsss.models.refiners.fma_sams.FMASAMSRefiner`).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import img_label_of
from ..foundation.fma import fma_caa, merge_attention, upsample_and_normalise
from ..foundation.prompt_learner import PromptLearner
from .clip_es import CLIPES


def differentiable_grad_cams(probs: Tensor,
                             acts: Tensor,
                             labels: Tensor,
                             create_graph: bool = True) -> Tensor:
    """FMA's batched Grad-CAM of every positive class probability.

    For positive (n, c): ``cam = sum_d mean_t(d probs[n, c] / d acts[n, t, d]) *
    acts[n, t, d]`` over the patch tokens t (token 0 = CLS is left out), activations
    detached, gradient with ``create_graph`` (the official ``is_grads_batched`` grad).

    One backward pass serves one positive of *every* image: image n's probabilities
    depend on ``acts[n]`` only, so the gradient of the sum over images of their r-th
    positive's probability, restricted to ``acts[n]``, is that positive's own gradient
    (exact; max-positives-per-image passes instead of one per positive).

    Args:
        probs: (N, G) class probabilities computed from ``acts`` (graph kept).
        acts: (N, 1 + T, D) the Grad-CAM target (a tensor requiring grad).
        labels: (N, C) multi-hot fg labels; channel c of ``probs`` is fg class c.
    Returns:
        (P, T) CAMs of the P positives in ``labels.nonzero()`` order (image, class).
    """
    rows, cls = labels.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return acts.new_zeros(0, acts.shape[1] - 1)
    # rank of each positive among its image's positives
    rank = torch.cumsum(labels > 0, dim=1)[rows, cls] - 1
    act = acts.detach()[:, 1:]
    parts, where = [], []
    for r in range(int(rank.max()) + 1):
        sel = (rank == r).nonzero().flatten()
        target = probs[rows[sel], cls[sel]].sum()
        grad = torch.autograd.grad(target, acts, create_graph=create_graph, retain_graph=True)[0]
        weights = grad[rows[sel], 1:].mean(1)  # (p_r, D)
        parts.append(torch.einsum('pd,ptd->pt', weights, act[rows[sel]]))
        where.append(sel)
    return torch.cat(parts)[torch.argsort(torch.cat(where))]


@MODELS.register_module()
class FMAPromptCAM(CLIPES):
    """FMA's prompt-learning CAM model (cls task or seg task, set by the losses).

    Args:
        clip: ``OpenCLIP`` config (frozen).
        class_names: C fg class names; bg_class_names: background names (the seg
            task: ``[''] * 25``).
        prompt: :class:`PromptLearner` keyword arguments (template, n_ctx,
            class_specific_ctx, ctx_init, ctx_std, seed).
        cls_loss: config of the loss on the fg logits (MultiLabelCLLoss), or None.
        cam_loss: config of the loss on the positives' CAMs and ``gt_sem_seg``
            (CAMIntensityLoss), or None. The Grad-CAM is only computed in training
            when a cam loss is set (FMA's cls task has weight 0 on it: same result).
        sm_fg_exist: softmax over [present fg + bg] (True) or over all classes.
        attn_layers, sinkhorn_iters, caa_power, box_thr, caa_at: FMA's CAA (cls task
            seeds: 8, 1, 2, 0.4, 'score'; seg task: 8, 1, 2, 0.5, 'cam').
        cam_type: 'caa' or 'gradcam' (no CAA).
        bg_thr, scales, input_resize, align_corners, data_preprocessor: as CLIPES.
    """

    def __init__(self,
                 clip: dict,
                 class_names: Sequence[str],
                 bg_class_names: Sequence[str] = (),
                 prompt: Optional[dict] = None,
                 cls_loss: Optional[dict] = None,
                 cam_loss: Optional[dict] = None,
                 sm_fg_exist: bool = True,
                 clip_checkpoint: Optional[str] = None,
                 scales: Sequence[float] = (1.0, ),
                 cam_type: str = 'caa',
                 attn_layers: int = 8,
                 sinkhorn_iters: int = 1,
                 caa_power: int = 2,
                 box_thr: float = 0.4,
                 caa_at: str = 'score',
                 bg_thr: float = 0.5,
                 align_corners: bool = False,
                 input_resize: str = 'pil_bicubic',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            clip=clip,
            class_names=class_names,
            bg_class_names=bg_class_names,
            clip_checkpoint=clip_checkpoint,
            scales=scales,
            cam_type=cam_type,
            attn_layers=attn_layers,
            sinkhorn_iters=sinkhorn_iters,
            box_thr=box_thr,
            bg_thr=bg_thr,
            align_corners=align_corners,
            input_resize=input_resize,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if caa_at not in ('score', 'cam'):
            raise ValueError(f"caa_at must be 'score' or 'cam', got '{caa_at}'")
        self.caa_power = caa_power
        self.caa_at = caa_at
        self.sm_fg_exist = sm_fg_exist
        self.prompt_learner = PromptLearner(self.clip, self.class_names + self.bg_class_names,
                                            **(prompt or {}))
        self.cls_loss = MODELS.build(cls_loss) if cls_loss else None
        self.cam_loss = MODELS.build(cam_loss) if cam_loss else None

    # ------------------------------------------------------------- text side
    def train(self, mode: bool = True) -> 'FMAPromptCAM':
        super().train(mode)
        self.reset_text_cache()  # prompts change in training
        return self

    def text_embeddings(self) -> Tuple[Tensor, Tensor]:
        """(C, E) fg and (C_bg, E) bg prompt features (no grad; cached in eval)."""
        device = self.clip.logit_scale.device
        if self.training or device not in self._text_cache:
            with torch.no_grad():
                feats = self.prompt_learner.text_features()
            out = (feats[:self.num_classes], feats[self.num_classes:])
            if self.training:
                return out
            self._text_cache[device] = out
        return self._text_cache[device]

    # ------------------------------------------------------------ forward
    def prompt_forward(self,
                       img: Tensor,
                       labels: Tensor,
                       with_cam: bool = True,
                       create_graph: bool = True,
                       text: Optional[Tensor] = None) -> Dict[str, object]:
        """Logits and the positives' Grad-CAMs of a batch.

        Args:
            img: (N, 3, H, W) CLIP-normalised images, sides multiples of the patch.
            labels: (N, C) multi-hot fg labels.
            text: (G, E) normalised text features (default: the prompt learner's,
                with gradient).
        Returns:
            dict: ``logits`` (N, G); ``pos_cams`` (P, h, w) (with_cam) in
            ``labels.nonzero()`` order; ``attns`` list of (N, 1 + hw, 1 + hw) per
            block; ``grid`` (h, w).
        """
        if text is None:
            text = self.prompt_learner.text_features()
        blocks = self.clip.clip.visual.transformer.resblocks
        with torch.no_grad():
            out = self.clip.forward_tokens(img, num_blocks=len(blocks) - 1)
        x, grid = out['tokens'], out['grid']
        with torch.enable_grad():
            # the Grad-CAM target A = ln_1 output of the last block, a leaf: the frozen
            # image tower has no parameter, so this is the gradient the official hook sees
            acts = blocks[-1].ln_1(x).detach().requires_grad_(True)
            x_last, attn_last = self.clip.block_forward(blocks[-1], x, ln_1_out=acts)
            img_emb = self.clip.pool_tokens(x_last, pool='avg', normalize=True)
            logits = self.clip.logit_scale * img_emb @ text.t()
            result = dict(logits=logits, attns=out['attns'] + [attn_last.detach()], grid=grid)
            if with_cam:
                c = self.num_classes
                masked = logits
                if self.sm_fg_exist:
                    keep = torch.ones_like(logits, dtype=torch.bool)
                    keep[:, :c] = labels > 0
                    masked = logits.masked_fill(~keep, float('-inf'))
                probs = masked.softmax(-1)
                cams = differentiable_grad_cams(probs, acts, labels, create_graph)
                result['pos_cams'] = cams.view(-1, *grid)
        return result

    def loss(self, inputs: Tensor, data_samples: List) -> dict:
        labels = torch.stack([
            img_label_of(s, self.num_classes, i) for i, s in enumerate(data_samples)
        ]).to(inputs.device)
        res = self.prompt_forward(inputs, labels, with_cam=self.cam_loss is not None)
        losses = {}
        if self.cls_loss is not None:
            losses[self.cls_loss.loss_name] = self.cls_loss(res['logits'][:, :self.num_classes],
                                                            labels)
        if self.cam_loss is not None:
            seed = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
            losses[self.cam_loss.loss_name] = self.cam_loss(res['pos_cams'], labels,
                                                            seed.to(inputs.device))
        if not losses:
            raise ValueError('FMAPromptCAM needs cls_loss and/or cam_loss to train')
        return losses

    # ------------------------------------------------------------ inference
    def single_scale_cams(self, img: Tensor, fg_idx: Sequence[int], out_size: Tuple[int,
                                                                                    int]) -> Tensor:
        """(K, H, W) FMA CAMs in [0, 1] of the present classes of one image.

        Args:
            img: (1, 3, H', W') CLIP-normalised image, sides multiples of the patch.
            fg_idx: K present fg class indices (ascending).
            out_size: (H, W).
        """
        labels = img.new_zeros(1, self.num_classes)
        labels[0, list(fg_idx)] = 1
        fg_text, bg_text = self.text_embeddings()
        res = self.prompt_forward(
            img, labels, create_graph=False, text=torch.cat([fg_text, bg_text], 0))
        cams = res['pos_cams'].detach().float()
        if self.cam_type == 'gradcam':
            return upsample_and_normalise(cams, out_size, self.align_corners)
        attn = merge_attention([a[0].float() for a in res['attns']], self.attn_layers)
        refined = fma_caa(cams, attn, self.sinkhorn_iters, self.caa_power, self.box_thr,
                          self.caa_at)
        return upsample_and_normalise(refined, out_size, self.align_corners)
