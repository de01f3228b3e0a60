"""A branch of a single-stage WSSS model: backbone (+ neck) + named CAM heads + decode head.

ToCo is one branch; DuPL two (two students); WeCLIP a frozen backbone plus a
decoder. Each CAM head reads either a feature level of the backbone output (its
own ``in_index``) or a named token map of a token backbone (``source='aux'``:
``feats.tokens['aux']``, ToCo's pre-norm block -3 tokens).
"""
from typing import Callable, Dict, Optional, Sequence

from mmengine.model import BaseModule, ModuleDict
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import BranchOutput
from ..utils.freeze import freeze


def in_parent_scope(cfg: dict) -> dict:
    """Build 'mmseg.X' / 'mmpretrain.X' parts inside that package's scope.

    A prefix does not carry down to the part's own defaults (an mmseg decode
    head's default ``loss_decode=dict(type='CrossEntropyLoss')`` would be looked
    up in mmwsss), so ``type='mmseg.ASPPHead'`` becomes ``type='ASPPHead',
    _scope_='mmseg'``: the head is built exactly as mmseg builds it.
    """
    if not isinstance(cfg, dict) or '_scope_' in cfg:
        return cfg
    t = cfg.get('type')
    if isinstance(t, str) and '.' in t:
        scope, name = t.split('.', 1)
        if scope in ('mmseg', 'mmpretrain'):
            return dict(cfg, type=name, _scope_=scope)
    return cfg


@MODELS.register_module()
class WSSSBranch(BaseModule):
    """Backbone (+ neck) + CAM heads by name + an optional mmseg decode head.

    Args:
        backbone: backbone config (any mmseg / mmpretrain / mmwsss backbone).
        cam_heads: ``{name: CAMHead config}``; a head config may carry
            ``source``: None (default) passes the backbone output tuple (the
            head picks its ``in_index``), a string names a token map of a
            ``BackboneOutput`` (``feats.tokens[source]``).
        decode_head: optional mmseg decode head config (the segmentation head).
        neck: optional neck config (applied to the backbone output for the
            decode head only; CAM heads read the backbone output).
        frozen: freeze the backbone (no grad, eval mode), e.g. a CLIP encoder.
    """

    def __init__(self,
                 backbone: dict,
                 cam_heads: Optional[Dict[str, dict]] = None,
                 decode_head: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 frozen: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        self.backbone = MODELS.build(in_parent_scope(backbone))
        self.neck = MODELS.build(in_parent_scope(neck)) if neck is not None else None
        self.cam_sources: Dict[str, Optional[str]] = {}
        heads = {}
        for name, cfg in (cam_heads or {}).items():
            cfg = dict(cfg)
            self.cam_sources[name] = cfg.pop('source', None)
            heads[name] = MODELS.build(in_parent_scope(cfg))
        # mmengine's ModuleDict: torch's has no init_weights, so the heads' init_cfg
        # (CAMHead: Normal std 0.01) would be skipped by BaseModule.init_weights
        self.cam_heads = ModuleDict(heads)
        self.decode_head = MODELS.build(in_parent_scope(decode_head)) \
            if decode_head is not None else None
        self.frozen = frozen
        if frozen:
            freeze(self.backbone)

    def train(self, mode: bool = True) -> 'WSSSBranch':
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def extract_feat(self, inputs: Tensor):
        """The backbone output (a tuple of (B, D, h, w) maps, maybe a BackboneOutput)."""
        return self.backbone(inputs)

    def _head_input(self, name: str, feats):
        source = self.cam_sources[name]
        if source is None:
            return feats
        tokens = getattr(feats, 'tokens', None)
        if tokens is None or source not in tokens:
            raise KeyError(f"CAM head '{name}' reads token map '{source}', but the backbone "
                           f"returned {sorted(tokens) if tokens else 'no token maps'}")
        return tokens[source]

    def cam_head_forward(self, name: str, feats):
        """``(logits (B, C), cams (B, C, h, w))`` of CAM head ``name``."""
        return self.cam_heads[name](self._head_input(name, feats))

    def seg_forward(self, feats) -> Tensor:
        """Decode-head logits (B, K, h, w)."""
        if self.decode_head is None:
            raise RuntimeError('this branch has no decode_head')
        x = self.neck(feats) if self.neck is not None else feats
        return self.decode_head(x)

    def forward(self,
                inputs: Tensor,
                cam_names: Optional[Sequence[str]] = None,
                with_seg: bool = True) -> BranchOutput:
        """One pass: backbone, the CAM heads (all by default), the decode head."""
        feats = self.extract_feat(inputs)
        out = BranchOutput(feats=feats)
        for name in (self.cam_heads.keys() if cam_names is None else cam_names):
            out.logits[name], out.cams[name] = self.cam_head_forward(name, feats)
        if with_seg and self.decode_head is not None:
            out.seg_logits = self.seg_forward(feats)
        return out

    def cam_fn(self, name: str) -> Callable[[Tensor], Tensor]:
        """``images (N, 3, h, w) -> raw CAMs (N, C, h', w')`` of head ``name``.

        A head may define its own inference CAM, ``head.cam_fn_for(branch)`` returning a
        callable (or None for the default), when its CAM is not one forward of the head,
        e.g. ACR's gradient-attention CAM, which reruns the backbone with grad enabled.
        """
        if name not in self.cam_heads:
            raise KeyError(f"no CAM head '{name}'; heads: {list(self.cam_heads)}")
        own = getattr(self.cam_heads[name], 'cam_fn_for', None)
        fn = own(self) if callable(own) else None
        if fn is not None:
            return fn
        return lambda x: self.cam_head_forward(name, self.extract_feat(x))[1]
