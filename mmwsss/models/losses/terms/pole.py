"""POLE (Murugesan et al., WACV'24, "Prompting classes"): CLIMS training whose class
text is chosen per image.

An offline step (tools/pole_select_prompts.py, :mod:`mmwsss.models.foundation.
pole_selection`) picks, for every training image and every present class, the
candidate token a frozen CLIP finds closest to the CAM-masked image. Training is
CLIMS (:class:`~.clims.CLIMSTerm`: L_OTM, L_BTM, L_CBS, L_REG) with that token's
prompt as the class text of L_OTM and L_BTM; the CBS background prompts stay
CLIMS's. The official release (``run_CLIMS.sh``) uses ``--hyper 10,25,1,0``: BTM
25 instead of CLIMS's 24, and no area term (``L_REG`` is commented out).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmwsss.registry import MODELS
from mmwsss.structures import TrainContext
from .clims import CLIMSTerm


def pole_positive_texts(pos: Tensor,
                        image_keys: Sequence[str],
                        prompts: Dict[str, Dict[int, str]],
                        template: str,
                        source: str = 'the prompt file') -> List[str]:
    """The class text of each positive (image ``pos[i, 0]``, class ``pos[i, 1]``):
    ``template.format(prompts[key of image][class])``.

    Args:
        pos: (P, 2) long [image, class] (row-major, as :func:`clims_masked_views`).
        image_keys: the prompt-file key of each image of the batch.
        prompts: ``{image key: {class index: token}}``.
        template: e.g. ``'A photo of {}.'``.
        source: how errors name the file.
    Raises:
        KeyError naming the image, the class and ``source`` when an entry is missing.
    """
    texts = []
    for n, c in pos.tolist():
        key = image_keys[n]
        row = prompts.get(key)
        if row is None:
            raise KeyError(f'image {key!r} is not in the POLE prompt file {source}')
        if c not in row:
            raise KeyError(f'image {key!r} has no token for class {c} in the POLE prompt '
                           f'file {source} (it has {sorted(row)})')
        texts.append(template.format(row[c]))
    return texts


@MODELS.register_module()
class POLETerm(CLIMSTerm):
    """CLIMS losses with POLE's per-image class texts.

    Args:
        text_mode: ``'per_image'`` (the paper: the class text of positive (n, c) is
            ``text_template.format(token)`` with ``token = prompt_file[image n][c]``)
            or ``'per_class'`` (the release's default path, per-image prompts
            disabled with ``mode=False``: one fixed text per class, ``class_prompts``;
            ``class_prompts='release_best'``: ``POLE_RELEASE_BEST_PROMPTS``, the
            release's 'best' list; None: CLIMS's ``'a photo of {name}.'``).
        prompt_file: the JSON written by tools/pole_select_prompts.py
            (``{image key: {class index: token}}``), read once at the first training
            step (configs and test runs need no file). An image of a batch that is not
            in the file, or a positive class it has no token for, is an error naming
            the image and the file. Image keys are matched against the end of each
            sample's ``img_path`` (:func:`lookup_image_key`).
        text_template: the prompt of a chosen token; the selection prompt
            ``'A photo of {}.'`` (the release feeds the chosen prompt as is).
        loss_weights: the release's ``--hyper 10,25,1,0``.
        **kwargs: :class:`CLIMSTerm` (clip, dataset, version='root', cbs_thr 0.26, ...).
    """

    def __init__(self,
                 name: str = 'pole',
                 cam: str = 'clims',
                 text_mode: str = 'per_image',
                 prompt_file: Optional[str] = None,
                 text_template: str = 'A photo of {}.',
                 loss_weights: Sequence[float] = (10.0, 25.0, 1.0, 0.0),
                 **kwargs) -> None:
        if kwargs.get('class_prompts') == 'release_best':
            from mmwsss.models.foundation.pole_synonyms import POLE_RELEASE_BEST_PROMPTS
            if kwargs.get('dataset', 'voc') != 'voc':
                raise ValueError("class_prompts='release_best' is the release's VOC list")
            kwargs['class_prompts'] = list(POLE_RELEASE_BEST_PROMPTS)
        super().__init__(name=name, cam=cam, loss_weights=loss_weights, **kwargs)
        if text_mode not in ('per_image', 'per_class'):
            raise ValueError(f"text_mode must be 'per_image' or 'per_class', got {text_mode!r}")
        if self.version != 'root':
            raise ValueError('POLE builds on the root (improved) version of CLIMS')
        self.text_mode = text_mode
        self.prompt_file = prompt_file
        self.text_template = text_template
        if '{}' not in text_template:
            raise ValueError(f"text_template needs a '{{}}' slot, got {text_template!r}")

    # ------------------------------------------------------------- prompt file
    def image_prompts(self) -> Dict[str, Dict[int, str]]:
        """The prompt file, read once."""
        cached = self._frozen.get('pole_prompts')
        if cached is None:
            if not self.prompt_file:
                raise ValueError("POLETerm(text_mode='per_image') needs prompt_file (run "
                                 'tools/pole_select_prompts.py first)')
            from mmwsss.models.foundation.pole_selection import read_pole_prompts
            cached = read_pole_prompts(self.prompt_file)
            self._frozen['pole_prompts'] = cached
        return cached  # type: ignore[return-value]

    def batch_image_keys(self, ctx: TrainContext) -> List[str]:
        """The prompt-file key of every image of the batch (from ``img_path``)."""
        from mmwsss.models.foundation.pole_selection import lookup_image_key
        prompts = self.image_prompts()
        if len(ctx.data_samples) != ctx.inputs.shape[0]:
            raise ValueError('POLETerm needs the data samples of the batch (their img_path) '
                             'to find the per-image prompts')
        keys = []
        for sample in ctx.data_samples:
            path = sample.metainfo.get('img_path')
            if path is None:
                raise ValueError('POLETerm: a data sample has no img_path')
            try:
                keys.append(lookup_image_key(path, prompts))
            except KeyError:
                raise KeyError(f'image {path} is not in the POLE prompt file '
                               f'{self.prompt_file} ({len(prompts)} images; was it written '
                               'for this training split?)') from None
        return keys

    def _text_embedding_table(self, texts: Sequence[str],
                              device: torch.device) -> Tuple[Dict[str, int], Tensor]:
        """(U, E) normalised embeddings of every text that may occur, encoded once
        (CLIP is frozen): all prompts of the file's tokens."""
        cached = self._frozen.get('pole_text')
        if cached is None or cached[1].device != device or any(t not in cached[0] for t in texts):
            known = dict(cached[0]) if cached is not None else {}
            every = sorted({
                self.text_template.format(tok)
                for row in self.image_prompts().values()
                for tok in row.values()
            } | set(known) | set(texts))
            model = self.clip_model(device)
            with torch.no_grad():
                emb = model.encode_text(every, normalize=True).detach()
            cached = ({t: i for i, t in enumerate(every)}, emb)
            self._frozen['pole_text'] = cached
        return cached  # type: ignore[return-value]

    # ------------------------------------------------------------- the hook
    def positive_text_embeddings(self, ctx: TrainContext, pos: Tensor, cls_emb: Tensor) -> Tensor:
        if self.text_mode == 'per_class':
            return cls_emb[pos[:, 1]]
        keys = self.batch_image_keys(ctx)
        texts = pole_positive_texts(pos, keys, self.image_prompts(), self.text_template,
                                    str(self.prompt_file))
        index, table = self._text_embedding_table(texts, cls_emb.device)
        rows = torch.tensor([index[t] for t in texts], device=table.device, dtype=torch.long)
        return table[rows]
