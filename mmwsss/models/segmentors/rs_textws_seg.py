"""RS-TextWS-Seg (Wang, Chang, Bai, Chen, Bi; IEEE TGRS 62, 2024,
doi 10.1109/TGRS.2024.3477749), written from the abstract (no code was located).

The abstract gives three sequential stages; everything beyond them is an open choice,
each a constructor argument (listed with its default's reason in
configs/rs_textws_seg/README.md):

1. :class:`RSTextWSCLIPTuner` -- fine-tune CLIP from image-level labels so that its
   zero-shot image-text matching recognises the remote-sensing classes: the last
   ``train_blocks`` image blocks (+ ``ln_post`` / ``proj``) are trained, the text
   tower stays frozen (hand-written templates, or CoOp context vectors learned with
   :class:`~mmwsss.models.foundation.PromptLearner`); the image-text objective is
   :func:`rs_textws_softmax_loss` (CLIP's zero-shot softmax, multi-label targets) or
   :func:`rs_textws_sigmoid_loss` (per-class BCE). Its checkpoint keeps only what was
   trained (and the random base weights when no CLIP file was given).
2. :class:`RSTextWSCLIPES` -- text-prompt-driven CAMs and pseudo labels: CLIP-ES
   (:class:`~mmwsss.models.segmentors.CLIPES`, unchanged machinery) on the fine-tuned
   CLIP, loading the stage-1 tensors through the safe loader.
3. segmentation: plain mmseg DeepLabV3+ on the pseudo labels (configs only).

The loss functions are importable alone; shapes are in their docstrings.
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from torch import Tensor, nn

from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample, img_label_of
from ..foundation.clip_finetune import load_partial_state_dict, partial_finetune
from ..foundation.prompt_learner import PromptLearner
from ..utils.cam import cam_to_label
from .clip_es import CLIPES
from .medprompt import medprompt_cams

RS_TEXTWS_TEMPLATES = ('a remote sensing image of {}.', )
RS_TEXTWS_LOSSES = ('softmax', 'sigmoid')


# ------------------------------------------------------------------------ losses
def rs_textws_logits(img_feats: Tensor,
                     text_feats: Tensor,
                     logit_scale: Tensor,
                     bias: Optional[Tensor] = None) -> Tensor:
    """(B, K) image-text logits ``scale * cos(img_b, text_k) (+ bias)``.

    Args:
        img_feats: (B, E) image embeddings (any norm; normalised here).
        text_feats: (K, E) class text embeddings (any norm; normalised here).
        logit_scale: scalar, already exponentiated (CLIP's ``logit_scale.exp()``).
        bias: optional scalar added to every logit (the sigmoid loss's bias).
    """
    logits = logit_scale * F.normalize(img_feats, dim=-1) @ F.normalize(text_feats, dim=-1).t()
    return logits if bias is None else logits + bias


def rs_textws_softmax_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """CLIP's zero-shot classifier trained with multi-label targets: softmax over the K
    class texts, cross-entropy to the normalised multi-hot label
    ``t_bk = y_bk / sum_k y_bk``::

        L = mean_{b: sum_k y_bk > 0}  - sum_k t_bk * log softmax_k(logits_b)

    Images without any class (background-only tiles) carry no target for a softmax
    over classes and are left out; a batch of only such images gives 0 (with a
    gradient path, so every process runs the same backward).

    Args:
        logits: (B, K) (K may include always-negative background texts, whose label
            columns are 0).
        labels: (B, K) multi-hot (float or bool).
    Returns:
        scalar.
    """
    labels = labels.float()
    count = labels.sum(1)
    keep = count > 0
    if not bool(keep.any()):
        return logits.sum() * 0.
    target = labels[keep] / count[keep, None]
    return -(target * F.log_softmax(logits[keep], dim=1)).sum(1).mean()


def rs_textws_sigmoid_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Per-class binary image-text matching: BCE-with-logits, mean over B x K::

        L = mean_{b,k}  softplus(-z_bk) * y_bk + softplus(z_bk) * (1 - y_bk)

    Args:
        logits: (B, K) (``scale * cos + bias``, see :func:`rs_textws_logits`).
        labels: (B, K) multi-hot.
    Returns:
        scalar.
    """
    return F.binary_cross_entropy_with_logits(logits, labels.float())


# ----------------------------------------------------------------- stage 1
@MODELS.register_module()
class RSTextWSCLIPTuner(BaseSegmentor):
    """Stage 1: fine-tune CLIP's image tower (last N blocks) on image-level labels.

    Args:
        clip: ``OpenCLIP`` config (built with ``frozen=False``; the parts to train
            are chosen by ``train_blocks`` / ``train_ln_post`` / ``train_proj``).
        class_names: the K foreground class names (the text of each class).
        templates: prompt templates of the frozen text (mean of the normalised
            template embeddings per class, as CLIP's zero-shot classifier); unused
            for the foreground when ``prompt`` is given.
        bg_class_names: background texts; used by the loss only with ``loss_bg``.
        clip_checkpoint: overrides ``clip['checkpoint']`` (None keeps it).
        train_blocks: number of last image-encoder blocks to fine-tune.
        train_ln_post: fine-tune the image tower's final LayerNorm.
        train_proj: fine-tune the image projection.
        prompt: None (frozen hand-written text) or :class:`PromptLearner` keyword
            arguments (``template``, ``n_ctx``, ...): learned context vectors for the
            foreground classes, trained with the image blocks.
        loss: ``'softmax'`` (:func:`rs_textws_softmax_loss`) or ``'sigmoid'``
            (:func:`rs_textws_sigmoid_loss`).
        loss_bg: append the background texts as always-negative classes.
        pool: image embedding: ``'avg'`` (mean of the ``ln_post`` patch tokens, the
            embedding CLIP-ES scores in stage 2) or ``'tok'`` (CLS token).
        sigmoid_scale, sigmoid_bias: initial scale and bias of the sigmoid loss's
            logits ``scale * cos + bias`` (SigLIP's init 10 / -10: CLIP's own scale
            of 100 saturates a sigmoid).
        sigmoid_learnable: learn that scale (in log space) and bias.
        save_frozen: keep the frozen CLIP weights in the checkpoint too: ``'auto'``
            (only when there is no CLIP checkpoint file, i.e. random base weights
            that stage 2 could not rebuild), True or False.
    """

    def __init__(self,
                 clip: dict,
                 class_names: Sequence[str],
                 templates: Sequence[str] = RS_TEXTWS_TEMPLATES,
                 bg_class_names: Sequence[str] = (),
                 clip_checkpoint: Optional[str] = None,
                 train_blocks: int = 4,
                 train_ln_post: bool = True,
                 train_proj: bool = True,
                 prompt: Optional[dict] = None,
                 loss: str = 'softmax',
                 loss_bg: bool = False,
                 pool: str = 'avg',
                 sigmoid_scale: float = 10.0,
                 sigmoid_bias: float = -10.0,
                 sigmoid_learnable: bool = True,
                 save_frozen='auto',
                 bg_thr: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if loss not in RS_TEXTWS_LOSSES:
            raise ValueError(f'loss must be one of {RS_TEXTWS_LOSSES}, got {loss!r}')
        if pool not in ('avg', 'tok'):
            raise ValueError(f"pool must be 'avg' or 'tok', got {pool!r}")
        if save_frozen not in ('auto', True, False):
            raise ValueError(f"save_frozen must be 'auto', True or False, got {save_frozen!r}")
        if loss_bg and not bg_class_names:
            raise ValueError('loss_bg=True needs bg_class_names')
        if not class_names:
            raise ValueError('RSTextWSCLIPTuner needs class_names')
        clip = dict(clip)
        if clip_checkpoint is not None:
            clip['checkpoint'] = clip_checkpoint
        clip['frozen'] = False  # partial_finetune decides what trains
        # registered first: the trained keys are named clip.clip.* as in CLIPES
        self.clip = MODELS.build(clip)
        self.class_names = list(class_names)
        self.templates = list(templates)
        self.bg_class_names = list(bg_class_names)
        self.loss_type = loss
        self.loss_bg = loss_bg
        self.pool = pool
        self.bg_thr = bg_thr
        partial_finetune(self.clip, train_blocks, train_ln_post, train_proj)
        self.prompt = PromptLearner(self.clip, self.class_names, **
                                    prompt) if prompt is not None else None
        if loss == 'sigmoid':
            log_scale = torch.tensor(float(sigmoid_scale)).log()
            bias = torch.tensor(float(sigmoid_bias))
            if sigmoid_learnable:
                self.sigmoid_log_scale = nn.Parameter(log_scale)
                self.sigmoid_bias = nn.Parameter(bias)
            else:
                self.register_buffer('sigmoid_log_scale', log_scale)
                self.register_buffer('sigmoid_bias', bias)
        # what the checkpoint keeps (named_parameters drops the prompt's shared copy
        # of the CLIP weights, registered second)
        trained = [n for n, p in self.named_parameters() if p.requires_grad]
        if not trained:
            raise ValueError('nothing to train: set train_blocks > 0, train_ln_post, '
                             'train_proj or prompt')
        keep = set(trained)
        if save_frozen is True or (save_frozen == 'auto' and self.clip.checkpoint is None):
            keep |= {'clip.' + k for k in self.clip.state_dict()}
        if loss == 'sigmoid':
            keep |= {'sigmoid_log_scale', 'sigmoid_bias'}
        self.trained_keys = sorted(trained)
        self._saved_keys = frozenset(keep)
        self._register_state_dict_hook(_keep_saved_keys)
        self.register_load_state_dict_post_hook(_allow_unsaved_keys)
        self._text_cache: Dict[tuple, Tensor] = {}
        print_log(
            f'RSTextWSCLIPTuner: training {len(trained)} tensors '
            f'({sum(p.numel() for n, p in self.named_parameters() if p.requires_grad)} '
            f'values): last {train_blocks} image blocks, ln_post={train_ln_post}, '
            f'proj={train_proj}, prompt={prompt is not None}',
            logger='current')

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    # ---------------------------------------------------------------- text
    def _frozen_text(self, names: Sequence[str]) -> Tensor:
        device = self.clip.logit_scale.device
        key = (device, tuple(names))
        if key not in self._text_cache:
            with torch.no_grad():
                self._text_cache[key] = self.clip.class_embeddings(names, self.templates)
        return self._text_cache[key]

    def text_features(self) -> Tensor:
        """(K [+ K_bg], E) L2-normalised class texts: learned prompts or templates
        for the foreground, templates for the background (with ``loss_bg``)."""
        fg = self.prompt.text_features() if self.prompt is not None \
            else self._frozen_text(self.class_names)
        if not self.loss_bg:
            return fg
        return torch.cat([fg, self._frozen_text(self.bg_class_names)], 0)

    def logits(self, img_feats: Tensor) -> Tensor:
        """(B, K [+ K_bg]) logits of the configured loss."""
        text = self.text_features()
        if self.loss_type == 'sigmoid':
            return rs_textws_logits(img_feats, text, self.sigmoid_log_scale.exp(),
                                    self.sigmoid_bias)
        return rs_textws_logits(img_feats, text, self.clip.logit_scale)

    def _labels(self, data_samples: List) -> Tensor:
        return torch.stack(
            [img_label_of(s, self.num_classes, i) for i, s in enumerate(data_samples)])

    # ------------------------------------------------------------ training
    def loss(self, inputs: Tensor, data_samples: List) -> dict:
        feats = self.clip.encode_image(inputs, pool=self.pool)
        logits = self.logits(feats)
        labels = self._labels(data_samples).to(logits.device)
        if logits.shape[1] > labels.shape[1]:  # background texts: always negative
            labels = F.pad(labels, (0, logits.shape[1] - labels.shape[1]))
        fn = rs_textws_softmax_loss if self.loss_type == 'softmax' else rs_textws_sigmoid_loss
        return dict(loss_cls=fn(logits, labels))

    # ----------------------------------------------------------- inference
    @torch.no_grad()
    def image_cams(self, img: Tensor, out_size: Tuple[int, int]) -> Tensor:
        """(K, H, W) quick check maps of one (1, 3, h, w) image: ReLU of the
        patch-text cosine, per-class max-normalised (stage 2 is the method's CAM)."""
        text = self.text_features()[:self.num_classes]
        cams = medprompt_cams(self.clip.patch_text_similarity(img, text)[0])
        return F.interpolate(cams[None], out_size, mode='bilinear', align_corners=False)[0]

    def predict(self, inputs: Tensor, data_samples: Optional[List] = None) -> List[WSSSDataSample]:
        """Patch-text cosine maps (a sanity check of the fine-tuned model, not the
        method's CAMs: those come from stage 2) as ``cams`` and ``pred_sem_seg``."""
        if data_samples is None:
            raise ValueError('RSTextWSCLIPTuner.predict needs data samples with image labels')
        results = []
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            h, w = meta.get('img_shape', inputs.shape[-2:])[:2]
            ori_size = tuple(meta.get('ori_shape', (h, w))[:2])
            cams = self.image_cams(inputs[i:i + 1, :, :h, :w].float(), ori_size)
            if meta.get('flip', False):
                dims = (2, ) if meta.get('flip_direction') == 'vertical' else (3, )
                cams = cams[None].flip(dims)[0]
            multi_hot = img_label_of(sample, self.num_classes, i).to(cams.device)
            cams = cams * multi_hot[:, None, None]
            if not isinstance(sample, WSSSDataSample):
                new = WSSSDataSample(metainfo=meta)
                for key in ('gt_sem_seg', 'gt_img_label'):
                    if key in sample:
                        setattr(new, key, getattr(sample, key))
                sample = new
            sample.cams = PixelData(data=cams)
            sample.pred_sem_seg = PixelData(
                data=cam_to_label(cams[None], multi_hot[None], bg_thr=self.bg_thr))
            results.append(sample)
        return results

    # ------------------------------------------------ BaseSegmentor contract
    def extract_feat(self, inputs: Tensor) -> Tensor:
        return self.clip.encode_image(inputs, pool=self.pool)

    def encode_decode(self, inputs: Tensor, batch_data_samples: List) -> Tensor:
        return torch.stack([
            self.image_cams(inputs[i:i + 1], tuple(inputs.shape[-2:]))
            for i in range(inputs.shape[0])
        ])

    def _forward(self, inputs: Tensor, data_samples: Optional[List] = None) -> Tensor:
        """(B, K) image-text logits."""
        return self.logits(self.extract_feat(inputs))


def _keep_saved_keys(module: RSTextWSCLIPTuner, state_dict: dict, prefix: str,
                     local_metadata: dict) -> None:
    """state_dict hook: drop the frozen weights (they come from the CLIP file)."""
    for key in list(state_dict):
        if key.startswith(prefix) and key[len(prefix):] not in module._saved_keys:
            del state_dict[key]


def _allow_unsaved_keys(module: RSTextWSCLIPTuner, incompatible) -> None:
    """load_state_dict post hook: keys the checkpoint does not keep are not missing."""
    missing = [k for k in incompatible.missing_keys if k in module._saved_keys]
    incompatible.missing_keys[:] = missing


# ----------------------------------------------------------------- stage 2
@MODELS.register_module()
class RSTextWSCLIPES(CLIPES):
    """Stage 2: CLIP-ES CAMs (Grad-CAM of the softmax over [present classes +
    background texts], CAA refinement) on the stage-1 fine-tuned CLIP.

    Args:
        finetuned: ``dict(checkpoint=PATH, prefixes=('clip.', 'prompt.'))``: the
            stage-1 checkpoint (only the tensors it trained, read with the safe
            loader, written over the CLIP weights of ``clip_checkpoint``).
            ``checkpoint=None`` runs plain CLIP-ES (the un-fine-tuned baseline).
        prompt: the stage-1 ``prompt`` (same :class:`PromptLearner` arguments) when
            stage 1 learned prompts; its context vectors come from the checkpoint and
            give the foreground texts (background texts keep ``templates``).
        **kwargs: :class:`CLIPES` arguments (``clip``, ``class_names``,
            ``bg_class_names``, ``templates``, ``box_thr`` ...).
    """

    def __init__(self,
                 *args,
                 finetuned: Optional[dict] = None,
                 prompt: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prompt = PromptLearner(self.clip, self.class_names, **
                                    prompt) if prompt is not None else None
        finetuned = dict(finetuned or {})
        unknown = set(finetuned) - {'checkpoint', 'prefixes'}
        if unknown:
            raise KeyError(f'finetuned takes checkpoint and prefixes, got {sorted(unknown)}')
        self.finetuned_checkpoint = finetuned.get('checkpoint')
        self.loaded_keys: List[str] = []
        if self.finetuned_checkpoint is None:
            print_log(
                'RSTextWSCLIPES: no stage-1 checkpoint (finetuned.checkpoint=None): '
                'CLIP-ES on the un-fine-tuned CLIP',
                logger='current')
            return
        prefixes = tuple(finetuned.get('prefixes', ('clip.', 'prompt.')))
        path = self.finetuned_checkpoint
        if not osp.isfile(path):
            raise FileNotFoundError(f'stage-1 checkpoint not found: {path} (train the stage-1 '
                                    'config first, or set model.finetuned.checkpoint)')
        from mmwsss.utils.checkpoint_compat import safe_torch_load
        raw = safe_torch_load(path, map_location='cpu')
        raw = raw.get('state_dict', raw) if isinstance(raw, dict) else raw
        has_prompt = isinstance(raw, dict) and any(k.startswith('prompt.') for k in raw)
        if has_prompt and self.prompt is None:
            raise ValueError(f'{path} holds learned prompts (prompt.*): give stage 2 the '
                             'stage-1 `prompt` arguments')
        if self.prompt is not None and not has_prompt:
            raise ValueError(f'{path} holds no learned prompts but `prompt` is set')
        self.loaded_keys = load_partial_state_dict(self, path, prefixes)
        self.reset_text_cache()
        print_log(
            f'RSTextWSCLIPES: loaded {len(self.loaded_keys)} stage-1 tensors from {path}',
            logger='current')

    def text_embeddings(self) -> Tuple[Tensor, Tensor]:
        """(C, E) foreground texts (learned prompts when ``prompt`` is set) and
        (C_bg, E) background texts, cached per device."""
        if self.prompt is None:
            return super().text_embeddings()
        device = self.clip.logit_scale.device
        if device not in self._text_cache:
            with torch.no_grad():
                fg = self.prompt.text_features()
                bg = (
                    self.clip.class_embeddings(self.bg_class_names, self.templates)
                    if self.bg_class_names else fg.new_zeros(0, fg.shape[1]))
            self._text_cache[device] = (fg, bg)
        return self._text_cache[device]
