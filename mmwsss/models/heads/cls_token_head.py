"""A class-token classifier head (ACR's ``cls_head``) with optional gradient-attention CAMs."""
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from mmwsss.registry import MODELS
from .cam_head import CAMHead


@MODELS.register_module()
class ClsTokenHead(CAMHead):
    """``logits = Linear(D, C)(class token)``; CAMs from the same Linear on the patches.

    ACR (``DPT/ACR.py: forward_cls``) classifies the class token of the last block
    (``activations['4']``: the block output, i.e. BEFORE the final norm; give the
    backbone ``out_norm=False``) with ``nn.Linear(768, 20)`` (with bias, PyTorch's default
    init). Its GAP-over-patches logit ``cls_head(mean(patches))`` is computed but not used
    by any loss; it equals ``GAP(cams)`` here (the head is linear) and is available as
    :meth:`gap_logits`.

    Input: a :class:`BackboneOutput` (the branch passes the whole backbone output when
    ``source`` is None) with ``cls_tokens`` (B, K, D) and ``feats[in_index]`` (B, D, h, w).
    Output: ``(logits (B, C), cams (B, C, h, w))``; the cams are the raw patch logits
    ``W f + b`` (ACR ``forward_cam``'s ``x_patch_cam`` before its ReLU).

    Args:
        in_channels: D.
        num_classes: C foreground classes.
        grad_cam: if a dict ``(start_layer, func, aff)``, the CAM this head gives to
            inference (``cam_fn_for``) is ACR's gradient-attention CAM
            (:func:`mmwsss.models.utils.grad_attn_cam.grad_attention_cams`), computed by
            rerunning the branch's backbone with grad enabled; None keeps the patch CAMs.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 in_index: int = -1,
                 grad_cam: Optional[dict] = None,
                 loss_decode: dict = dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0),
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            pool='gap',
            in_index=in_index,
            loss_decode=loss_decode,
            init_cfg=init_cfg,
            **kwargs)
        del self.conv_seg
        # ACR: nn.Linear(768, num_class), with bias, torch's default initialisation
        self.fc = nn.Linear(in_channels, num_classes)
        if grad_cam is not None:
            grad_cam = dict(grad_cam)
            unknown = set(grad_cam) - {'start_layer', 'func', 'aff'}
            if unknown:
                raise KeyError(f'ClsTokenHead grad_cam: unknown keys {sorted(unknown)}; allowed '
                               "'start_layer', 'func', 'aff'")
        self.grad_cam = grad_cam

    def class_logits(self, feats) -> Tensor:
        """(B, C) logits of the first prefix (class) token."""
        cls = getattr(feats, 'cls_tokens', None)
        if cls is None:
            raise KeyError('ClsTokenHead needs a backbone output with cls_tokens '
                           '(TokenViT(with_cls_token=True))')
        return self.fc(cls[:, 0])

    def forward(self, feats):
        """``(logits (B, C), raw patch cams (B, C, h, w))``."""
        logits = self.class_logits(feats)
        patches = feats[self.in_index]  # (B, D, h, w)
        cams = torch.einsum('bdhw,cd->bchw', patches, self.fc.weight) + \
            self.fc.bias[None, :, None, None]
        return logits, cams

    @staticmethod
    def gap_logits(cams: Tensor) -> Tensor:
        """ACR's unused ``x_patch_cls`` = Linear(mean of the patch tokens) = GAP(cams)."""
        return cams.mean((-2, -1))

    def cam_fn_for(self, branch) -> Optional[Callable[[Tensor], Tensor]]:
        """The inference CAM of this head in ``branch`` (WSSSBranch.cam_fn asks for it):
        ACR's gradient-attention CAM when ``grad_cam`` is set, else None (the default
        ``images -> forward(backbone(images))[1]``)."""
        if self.grad_cam is None:
            return None
        from ..utils.grad_attn_cam import grad_attention_cams
        cfg = dict(start_layer=10, func='grad', aff=True)
        cfg.update(self.grad_cam)

        def fn(x: Tensor) -> Tensor:
            return grad_attention_cams(branch.backbone, self.class_logits, x, **cfg)

        return fn
