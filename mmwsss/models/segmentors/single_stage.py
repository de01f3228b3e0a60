"""The single-stage WSSS chassis: branches, named CAMs and pseudo labels, loss terms.

One training step of :class:`SingleStageWSSS`:

1. the WSSS data preprocessor gives normalised ``inputs`` and a
   :class:`~mmwsss.structures.WSSSBatch` (uint8 RGB image, image labels,
   valid mask, extra views);
2. every branch runs once: backbone -> named CAM heads and the decode head;
   then every view pass runs a branch on a named view (``ctx.passes``);
3. multi-scale CAMs requested by the label sources / loss terms are computed
   once per (head, setting);
4. label sources write ``ctx.pseudo[name]`` in config order;
5. loss terms return their losses, weighted by their schedules and prefixed by
   their names (``add_prefix``); two terms producing one key is an error.

Nothing method-specific lives here: a method is branches + label sources +
loss terms in a config (ToCo: configs/toco/).
"""
import contextlib
from typing import Callable, ContextManager, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.model import ModuleDict, ModuleList
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.utils import OptSampleList, SampleList, add_prefix
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext, WSSSBatch, stack_img_labels
from ..data_preprocessors.wsss_data_preprocessor import valid_mask_from_samples
from ..label_sources.multi_scale import precompute_multi_scale, requests_of
from ..utils.image_norm import denormalize, preprocessor_stats
from ..utils.seg_inference import multi_scale_seg_logits
from .cam_classifier import CAMPredictMixin, build_cam_cfg

DEFAULT_BRANCH = 'net'


def order_label_sources(sources: Dict[str, nn.Module]) -> Dict[str, nn.Module]:
    """Config order, moved only as far as each source's ``pseudo_inputs()`` require.

    A stable topological sort: repeatedly take the first source (in the given
    order) whose inputs are all written already. Reading a label no source
    writes, or a cycle, is an error naming the sources.
    """
    needs = {}
    for name, src in sources.items():
        inputs = tuple(src.pseudo_inputs()) if hasattr(src, 'pseudo_inputs') else ()
        missing = [i for i in inputs if i not in sources]
        if missing:
            raise KeyError(f"label source '{name}' reads pseudo labels {missing}, which no label "
                           f'source writes; label sources: {list(sources)}')
        needs[name] = set(inputs)
    ordered: Dict[str, nn.Module] = {}
    pending = list(sources)
    while pending:
        ready = next((n for n in pending if needs[n] <= set(ordered)), None)
        if ready is None:
            raise ValueError(f'label sources {pending} read each other in a cycle')
        ordered[ready] = sources[ready]
        pending.remove(ready)
    return ordered


@MODELS.register_module()
class SingleStageWSSS(CAMPredictMixin, BaseSegmentor):
    """Single-stage WSSS: one or more branches trained by scheduled loss terms.

    Args:
        branches: ``{name: WSSSBranch config}``. Shorthand for ONE branch
            (named ``'net'``): give ``backbone``, ``cam_heads``,
            ``decode_head`` (and ``neck``) directly.
        label_sources: ``{name: label source config}``, run in this order,
            except that a source declaring ``pseudo_inputs()`` (the labels it
            reads, e.g. DuPL's GMM filter) runs after their sources (a dumped
            config sorts dict keys, so the order of the file is not enough);
            each writes ``ctx.pseudo[name]`` (e.g. ``CAMLabelSource``).
        loss_terms: list of :class:`LossTerm` configs (unique names).
        view_passes: ``{name: dict(branch, view, cam_heads=None, with_seg=True,
            start=0)}``: after the branches, run ``branch`` again on the
            preprocessor's view ``view`` (``ctx.views[view]``) with the given CAM
            heads (None: all) and, if ``with_seg``, its decode head; the output is
            ``ctx.passes[name]`` (a :class:`BranchOutput`), e.g. SEAM's x0.3
            view or ACR's flipped batch. One forward per pass, shared by all terms.
            ``start``: the first iteration the pass runs (DuPL's strong view is read
            only once its term is on; before, the forward would be wasted). A term
            that reads the pass earlier gets a KeyError naming the pass.
        batch_mixers: optional list of batch-mixer configs (MODELS), called in order
            at the start of :meth:`loss`, before any branch runs, as
            ``mixer(model, inputs, wsss_batch, data_samples) -> (inputs,
            wsss_batch, data_samples)``; a mixer may use the model's current
            predictions (BECO's ClassMix with online labels, ``BECOClassMix``).
        test_cfg: prediction settings:
            ``predict_source``: ``'seg'`` (decode head of ``predict_branch``,
            mmseg's post-processing), ``'cam'`` (CAMs of ``cam_head``) or
            ``'predictor'``: ``predictor`` (a registered part, see
            ``predictors.py``, e.g. MoRe's ``CAM2SegPredictor``) gives the
            scores instead of the decode head, then mmseg's post-processing;
            ``cam``: the CAM inference setting of :func:`build_cam_cfg`
            (``preset``, ``scales``, ``bg_thr``...);
            ``seg_scales`` / ``seg_flip`` / ``seg_flip_merge`` /
            ``seg_scale_merge``: multi-scale segmentation logits (ToCo:
            (1.0, 1.5, 1.25), flip summed, scales max-merged);
            ``crf``: optional refiner config applied to the softmax of the
            final logits at the original size (ToCo: DenseCRF preset toco_seg).
    """

    def __init__(self,
                 branches: Optional[Dict[str, dict]] = None,
                 backbone: Optional[dict] = None,
                 cam_heads: Optional[Dict[str, dict]] = None,
                 decode_head: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 label_sources: Optional[Dict[str, dict]] = None,
                 loss_terms: Sequence[dict] = (),
                 view_passes: Optional[Dict[str, dict]] = None,
                 batch_mixers: Sequence[dict] = (),
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if branches is None:
            if backbone is None:
                raise ValueError('SingleStageWSSS needs `branches` or a `backbone`')
            branches = {
                DEFAULT_BRANCH:
                dict(backbone=backbone, cam_heads=cam_heads, decode_head=decode_head, neck=neck)
            }
        elif backbone is not None:
            raise ValueError('give either `branches` or backbone/cam_heads/decode_head')
        built = {}
        for name, cfg in branches.items():
            cfg = dict(cfg)
            cfg.setdefault('type', 'WSSSBranch')
            built[name] = MODELS.build(cfg)
        # mmengine's ModuleDict/ModuleList (BaseModules): torch's containers have no
        # init_weights, so BaseModule.init_weights would skip everything inside them and a
        # backbone's init_cfg=dict(type='Pretrained') would never load
        self.branches = ModuleDict(built)
        self._head_branch: Dict[str, str] = {}
        for bname, branch in self.branches.items():
            for hname in branch.cam_heads:
                if hname in self._head_branch:
                    raise ValueError(f"CAM head name '{hname}' is used by branches "
                                     f"'{self._head_branch[hname]}' and '{bname}'")
                self._head_branch[hname] = bname
        self.label_sources = ModuleDict(
            order_label_sources({
                k: MODELS.build(v)
                for k, v in (label_sources or {}).items()
            }))
        terms = [MODELS.build(t) for t in loss_terms]
        names = [t.name for t in terms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f'loss term names must be unique, repeated: {dup}')
        self.loss_terms = ModuleList(terms)
        self.view_passes = self._check_view_passes(view_passes or {})
        self.batch_mixers = ModuleList([MODELS.build(m) for m in batch_mixers or ()])
        self.train_cfg = train_cfg
        test_cfg = ConfigDict(test_cfg or {})
        test_cfg.setdefault('mode', 'whole')
        self.test_cfg = test_cfg
        self.predict_source = test_cfg.get('predict_source', 'seg')
        if self.predict_source not in ('seg', 'cam', 'predictor'):
            raise ValueError(f"test_cfg.predict_source must be 'seg', 'cam' or 'predictor', "
                             f'got {self.predict_source!r}')
        predictor = test_cfg.get('predictor')
        self.predictor = MODELS.build(predictor) if isinstance(predictor, dict) else predictor
        if self.predict_source == 'predictor' and self.predictor is None:
            raise KeyError("test_cfg.predict_source='predictor' needs test_cfg.predictor")
        self.predict_branch = test_cfg.get('predict_branch', next(iter(self.branches)))
        self.predict_cam_head = test_cfg.get('cam_head', next(iter(self._head_branch), None))
        self.cam_cfg = build_cam_cfg(test_cfg.get('cam', {}))
        crf = test_cfg.get('crf')
        self.crf = MODELS.build(crf) if isinstance(crf, dict) else crf
        # mmseg's BaseSegmentor reads these in postprocess_result
        head = self.branches[self.predict_branch].decode_head
        self.align_corners = getattr(head, 'align_corners', False)
        self.num_classes = getattr(head, 'num_classes', None)
        self.out_channels = getattr(head, 'out_channels', None)
        # Optional ``fn(stage name) -> context manager`` around every stage of a
        # training step (branch forwards, multi-scale CAMs, each label source and
        # term): tools/analysis_tools/benchmark_single_stage.py times them with it.
        self.stage_hook: Optional[Callable[[str], ContextManager]] = None

    _PASS_KEYS = ('branch', 'view', 'cam_heads', 'with_seg', 'start')

    def _check_view_passes(self, passes: Dict[str, dict]) -> Dict[str, dict]:
        checked = {}
        for name, cfg in passes.items():
            cfg = dict(cfg)
            unknown = sorted(set(cfg) - set(self._PASS_KEYS))
            if unknown:
                raise KeyError(f"view pass '{name}': unknown keys {unknown}; "
                               f'allowed: {list(self._PASS_KEYS)}')
            for key in ('branch', 'view'):
                if key not in cfg:
                    raise KeyError(f"view pass '{name}' needs '{key}'")
            if cfg['branch'] not in self.branches:
                raise KeyError(f"view pass '{name}': no branch '{cfg['branch']}'; "
                               f'branches: {list(self.branches)}')
            heads = cfg.get('cam_heads')
            if heads is not None:
                missing = [h for h in heads if h not in self.branches[cfg['branch']].cam_heads]
                if missing:
                    raise KeyError(f"view pass '{name}': branch '{cfg['branch']}' has no CAM "
                                   f'heads {missing}')
                cfg['cam_heads'] = tuple(heads)
            cfg.setdefault('cam_heads', None)
            cfg.setdefault('with_seg', True)
            cfg['start'] = int(cfg.get('start', 0))
            checked[name] = cfg
        return checked

    def _stage(self, name: str) -> ContextManager:
        return self.stage_hook(name) if self.stage_hook is not None else contextlib.nullcontext()

    # ------------------------------------------------------------ helpers
    @property
    def with_decode_head(self) -> bool:
        return self.branches[self.predict_branch].decode_head is not None

    @property
    def cam_head(self):
        """The CAM head used by CAM prediction (``test_cfg.cam_head``)."""
        return self.branches[self._head_branch[self.predict_cam_head]] \
            .cam_heads[self.predict_cam_head]

    def cam_fn(self, inputs: Tensor) -> Tensor:
        branch = self.branches[self._head_branch[self.predict_cam_head]]
        return branch.cam_fn(self.predict_cam_head)(inputs)

    def branch_cam_fn(self, branch: str, heads: Sequence[str]):
        """``images -> CAMs of several heads of one branch, concatenated``."""
        br = self.branches[branch]

        def fn(x: Tensor) -> Tensor:
            feats = br.extract_feat(x)
            return torch.cat([br.cam_head_forward(h, feats)[1] for h in heads], 1)

        return fn

    def extract_feat(self, inputs: Tensor):
        return self.branches[self.predict_branch].extract_feat(inputs)

    @staticmethod
    def _current_iter() -> int:
        return int(MessageHub.get_current_instance().get_info('iter', 0) or 0)

    def _fallback_batch(self, inputs: Tensor, data_samples: SampleList) -> WSSSBatch:
        """A :class:`WSSSBatch` when the batch came through mmseg's preprocessor."""
        c = next(iter(self.branches.values())).cam_heads
        num = next(iter(c.values())).num_classes if len(c) else None
        labels = stack_img_labels(data_samples, num, inputs.device) if num else None
        img = denormalize(inputs, **preprocessor_stats(self.data_preprocessor))
        valid = valid_mask_from_samples(data_samples, inputs.shape[-2:], inputs.device)
        return WSSSBatch(img=img, img_labels=labels, valid_mask=valid)

    # ------------------------------------------------------------ training
    def forward(self,
                inputs: Tensor,
                data_samples: OptSampleList = None,
                mode: str = 'tensor',
                wsss: Optional[WSSSBatch] = None):
        if mode == 'loss':
            return self.loss(inputs, data_samples, wsss)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

    def build_context(self,
                      inputs: Tensor,
                      data_samples: SampleList,
                      wsss: Optional[WSSSBatch] = None) -> TrainContext:
        """Run every branch once and collect their outputs into a context."""
        batch = wsss if wsss is not None else self._fallback_batch(inputs, data_samples)
        if batch.img_labels is None:
            raise KeyError('single-stage WSSS training needs image labels (gt_img_label)')
        ctx = TrainContext(
            inputs=inputs,
            img=batch.img,
            img_labels=batch.img_labels,
            data_samples=list(data_samples),
            iter=self._current_iter(),
            valid_mask=batch.valid_mask,
            views=dict(batch.views),
            view_imgs=dict(batch.view_imgs),
            view_flips=dict(batch.view_flips))
        ctx.extras['cam_heads'] = {}
        ctx.extras['decode_heads'] = {}
        ctx.extras['branch_modules'] = dict(self.branches.items())
        ctx.extras['branch_cam_fn'] = self.branch_cam_fn
        for name, branch in self.branches.items():
            with self._stage(f'branch.{name}'):
                out = branch(inputs)
            ctx.branches[name] = out
            ctx.cams.update(out.cams)
            ctx.logits.update(out.logits)
            ctx.extras['cam_heads'].update(branch.cam_heads.items())
            ctx.extras['decode_heads'][name] = branch.decode_head
            for h in out.cams:
                ctx.cam_fns[h] = branch.cam_fn(h)
        for name, cfg in self.view_passes.items():
            if ctx.iter < cfg['start']:
                continue
            with self._stage(f'pass.{name}'):
                view = ctx.require('views', cfg['view'])
                ctx.passes[name] = self.branches[cfg['branch']](
                    view, cam_names=cfg['cam_heads'], with_seg=cfg['with_seg'])
        return ctx

    def loss(self,
             inputs: Tensor,
             data_samples: SampleList,
             wsss: Optional[WSSSBatch] = None) -> dict:
        if len(self.batch_mixers):
            wsss = wsss if wsss is not None else self._fallback_batch(inputs, data_samples)
            for mixer in self.batch_mixers:
                inputs, wsss, data_samples = mixer(self, inputs, wsss, data_samples)
        ctx = self.build_context(inputs, data_samples, wsss)
        parts = list(self.label_sources.values()) + list(self.loss_terms)
        with self._stage('multi_scale_cams'):
            precompute_multi_scale(ctx, requests_of(parts), self.branch_cam_fn)
        for name, source in self.label_sources.items():
            with self._stage(f'label.{name}'):
                ctx.pseudo[name] = source(ctx)
        losses: Dict[str, Tensor] = {}
        for term in self.loss_terms:
            with self._stage(f'term.{term.name}'):
                out = add_prefix(term(ctx), term.name)
            clash = sorted(set(out) & set(losses))
            if clash:
                raise KeyError(f"loss term '{term.name}' produces keys already set: {clash}")
            losses.update(out)
        return losses

    # ------------------------------------------------------------ inference
    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Segmentation logits (B, K, h, w) of the predict branch ('tensor' mode)."""
        return self.branches[self.predict_branch].seg_forward(self.extract_feat(inputs))

    def _seg_logits(self, x: Tensor) -> Tensor:
        branch = self.branches[self.predict_branch]
        return F.interpolate(
            branch.seg_forward(branch.extract_feat(x)),
            size=x.shape[-2:],
            mode='bilinear',
            align_corners=self.align_corners)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Segmentation logits at the input size, multi-scale if configured
        (:func:`multi_scale_seg_logits`, ToCo's ``infer_seg_voc.py`` rule)."""
        cfg = self.test_cfg
        return multi_scale_seg_logits(
            self._seg_logits,
            inputs,
            scales=cfg.get('seg_scales', (1.0, )),
            flip=cfg.get('seg_flip', False),
            flip_merge=cfg.get('seg_flip_merge', 'sum'),
            scale_merge=cfg.get('seg_scale_merge', 'max'))

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        if self.predict_source == 'cam':
            return self.predict_cam_samples(inputs, data_samples)
        if data_samples is not None:
            metas = [s.metainfo for s in data_samples]
        else:
            metas = [
                dict(
                    ori_shape=inputs.shape[2:],
                    img_shape=inputs.shape[2:],
                    pad_shape=inputs.shape[2:],
                    padding_size=[0, 0, 0, 0])
            ] * inputs.shape[0]
        with torch.no_grad():
            seg_logits = self.predictor(self, inputs) if self.predict_source == 'predictor' \
                else self.encode_decode(inputs, metas)
        samples = self.postprocess_result(seg_logits, data_samples)
        if self.crf is not None:
            self._apply_crf(inputs, samples)
        return samples

    def _apply_crf(self, inputs: Tensor, samples: SampleList) -> None:
        """CRF on the softmax of each image's logits at its original size."""
        stats = preprocessor_stats(self.data_preprocessor)
        for i, sample in enumerate(samples):
            logits = sample.seg_logits.data[None]
            img = self._original_image(inputs[i:i + 1], sample, stats)
            probs = logits.softmax(1)
            state = dict(
                img=img,
                cams=probs[:, 1:],
                scores=probs,
                img_labels=torch.ones_like(probs[:, 1:, 0, 0]))
            out = self.crf(state)
            label = out['label'] if out.get('label') is not None else out['scores'].argmax(1)
            sample.pred_sem_seg = PixelData(data=label.to(logits.device).long())

    def _original_image(self, inp: Tensor, sample, stats: dict) -> Tensor:
        """uint8 RGB (1, 3, H_ori, W_ori) of one input (padding cut, flips undone)."""
        meta = sample.metainfo
        h, w = meta.get('img_shape', inp.shape[-2:])[:2]
        img = denormalize(inp[..., :h, :w], **stats).float()
        if meta.get('flip', False):
            img = img.flip(-1 if meta.get('flip_direction') == 'horizontal' else -2)
        ori = meta.get('ori_shape', (h, w))[:2]
        if tuple(ori) != (h, w):
            img = F.interpolate(img, size=tuple(ori), mode='bilinear', align_corners=False)
        return img.round().clamp(0, 255).to(torch.uint8)
