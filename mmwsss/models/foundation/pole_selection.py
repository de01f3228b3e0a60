"""POLE's per-image class-token selection (Murugesan et al., WACV'24), as plain functions.

For each training image and each class present in it (official ``clip_selection.py``):

1. the baseline CAM of the class (IRN's ``high_res`` map, max-normalised to [0, 1] at
   the image size) multiplies the image: ``v = I * cam_c`` (:func:`pole_masked_image`);
2. a frozen CLIP (OpenAI ViT-B/32) embeds ``v`` after its own preprocessing
   (:func:`clip_preprocess`: shorter side to 224 bicubic, centre crop, CLIP statistics)
   and every candidate prompt ``'A photo of {token}.'`` of the class;
3. softmax over the candidates of ``logit_scale * cos``; the argmax is the image's
   token for that class (:func:`pole_select_tokens`).

Two quirks of the official script are options, off by default (the paper's intent):
``bgr`` (the image is read with cv2, so CLIP sees B and R swapped) and ``uint8_wrap``
(``image * cam * 255`` is cast to uint8, so every value above 255 wraps modulo 256).
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from .open_clip_model import CLIP_MEAN, CLIP_STD


def pole_select_tokens(img_emb: Tensor,
                       cand_emb: Tensor,
                       logit_scale: float = 100.0) -> Tuple[Tensor, Tensor]:
    """Pick one candidate per image embedding.

    ``probs = softmax_s(logit_scale * cos(img_n, cand_s))`` (CLIP's ``logits_per_image``),
    index = argmax (the first maximum on ties). The softmax does not change the argmax;
    the probabilities are returned for inspection.

    Args:
        img_emb: (N, E) image embeddings (any norm; normalised here).
        cand_emb: (S, E) embeddings of the S candidate prompts of one class.
        logit_scale: CLIP's ``logit_scale.exp()`` (100 for the OpenAI weights).
    Returns:
        index (N,) long in [0, S) and probs (N, S).
    """
    if cand_emb.shape[0] == 0:
        raise ValueError('pole_select_tokens needs at least one candidate')
    logits = logit_scale * F.normalize(img_emb, dim=-1) @ F.normalize(cand_emb, dim=-1).t()
    probs = logits.softmax(-1)
    return probs.argmax(-1), probs


def pole_masked_image(img: Tensor,
                      cam: Tensor,
                      bgr: bool = False,
                      uint8_wrap: bool = False) -> Tensor:
    """The CAM-masked picture CLIP judges, as uint8.

    Paper intent (default): ``trunc(I * cam)`` with I in 0-255 and cam in [0, 1], so
    values stay in 0-255 (the cast truncates, as numpy's ``astype(uint8)`` does).
    ``uint8_wrap=True`` (official): ``trunc(I * cam * 255) mod 256`` (numpy's cast of
    an out-of-range float to uint8 on x86-64; e.g. 200 * 0.5 * 255 = 25500 -> 156).
    ``bgr=True`` (official cv2 read): channels reversed, so CLIP's R is the photo's B.

    Args:
        img: (3, H, W) RGB image, uint8 or float in 0-255.
        cam: (H, W) CAM of one class in [0, 1] at the image size.
    Returns:
        (3, H, W) uint8.
    """
    if img.shape[-2:] != cam.shape[-2:]:
        raise ValueError(f'image {tuple(img.shape)} and CAM {tuple(cam.shape)} sizes differ')
    # float32 as the official numpy expression (uint8 image * float32 CAM): values at an
    # integer boundary truncate the same way
    x = img.float()
    if bgr:
        x = x.flip(0)
    x = x * cam.float()[None]
    if uint8_wrap:
        x = torch.remainder(torch.trunc(x * 255.0), 256.0)
    else:
        x = torch.trunc(x).clamp(0, 255)
    return x.to(torch.uint8)


def clip_preprocess(img: Tensor, size: int = 224) -> Tensor:
    """OpenAI CLIP's ``preprocess`` of a uint8 picture (what ``clip.load`` returns):
    shorter side to ``size`` (PIL bicubic; longer side ``int(size * long / short)``, as
    torchvision's Resize), centre crop ``size x size`` (top-left at
    ``round((H - size) / 2)``), ``/ 255``, CLIP mean/std.

    Args:
        img: (3, H, W) uint8 RGB.
    Returns:
        (1, 3, size, size) float32.
    """
    h, w = img.shape[-2:]
    if h <= w:
        new_h, new_w = size, int(size * w / h)
    else:
        new_h, new_w = int(size * h / w), size
    pil = Image.fromarray(img.permute(1, 2, 0).cpu().numpy())
    if (new_h, new_w) != (h, w):
        pil = pil.resize((new_w, new_h), Image.BICUBIC)
    arr = np.asarray(pil)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    arr = arr[top:top + size, left:left + size]
    x = torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1) / 255.0
    std = torch.tensor(CLIP_STD).view(3, 1, 1) / 255.0
    return ((x - mean) / std)[None]


def candidate_prompts(candidates: Sequence[Sequence[str]], template: str) -> List[List[str]]:
    """``template.format(token)`` for every candidate of every class."""
    return [[template.format(t) for t in tokens] for tokens in candidates]


@torch.no_grad()
def select_image_tokens(clip,
                        img: Tensor,
                        cams: Tensor,
                        classes: Sequence[int],
                        cand_emb: Sequence[Tensor],
                        candidates: Sequence[Sequence[str]],
                        size: int = 224,
                        bgr: bool = False,
                        uint8_wrap: bool = False,
                        pool: str = 'tok') -> Dict[int, Tuple[str, List[float]]]:
    """The POLE token of every present class of one image.

    Args:
        clip: an :class:`OpenCLIP` (``encode_image(x, pool)``, ``logit_scale``).
        img: (3, H, W) uint8 RGB image at its original size.
        cams: (K, H, W) baseline CAMs of ``classes`` (same order), in [0, 1].
        classes: K class indices.
        cand_emb: per class index, (S_c, E) normalised candidate prompt embeddings.
        candidates: per class index, its S_c tokens.
    Returns:
        ``{class: (chosen token, candidate probabilities)}``.
    """
    out: Dict[int, Tuple[str, List[float]]] = {}
    device = clip.logit_scale.device
    scale = float(clip.logit_scale)
    for cam, c in zip(cams, classes):
        view = clip_preprocess(pole_masked_image(img, cam, bgr, uint8_wrap), size).to(device)
        emb = clip.encode_image(view, pool=pool, normalize=True)
        idx, probs = pole_select_tokens(emb, cand_emb[c].to(emb), scale)
        out[int(c)] = (candidates[c][int(idx[0])], probs[0].tolist())
    return out


# ----------------------------------------------------------------- the prompt file


def read_pole_prompts(path: str) -> Dict[str, Dict[int, str]]:
    """Read a selection file ``{image key: {class index: chosen token}}`` (JSON, written
    by tools/pole_select_prompts.py). Every problem is an error naming the file and
    the entry."""
    import json
    import os.path as osp
    if not osp.isfile(path):
        raise FileNotFoundError(f'POLE prompt file {path} does not exist (write it with '
                                'tools/pole_select_prompts.py CONFIG CAM_CHECKPOINT --out FILE)')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'POLE prompt file {path} is not valid JSON: {e}') from e
    if not isinstance(data, dict):
        raise ValueError(f'POLE prompt file {path}: expected a JSON object '
                         f'{{image key: {{class index: token}}}}, got {type(data).__name__}')
    out: Dict[str, Dict[int, str]] = {}
    for key, entry in data.items():
        if not isinstance(entry, dict):
            raise ValueError(f'POLE prompt file {path}: image {key!r} must map to an object '
                             f'{{class index: token}}, got {entry!r}')
        row: Dict[int, str] = {}
        for c, token in entry.items():
            if not (isinstance(c, str) and c.isdigit()) or not isinstance(token, str) \
                    or not token.strip():
                raise ValueError(f'POLE prompt file {path}: image {key!r} has a bad entry '
                                 f'{c!r}: {token!r} (class index -> non-empty token)')
            row[int(c)] = token
        out[key] = row
    return out


def lookup_image_key(img_path: str, keys) -> str:
    """The key of ``img_path`` in a prompt file: the longest trailing part of the path
    (without extension) that is a key (``.../JPEGImages/2007_000032.jpg`` ->
    ``'2007_000032'``; ``.../images/a/01.jpg`` -> ``'a/01'`` when the keys are paths
    relative to the image folder, as tools/pole_select_prompts.py writes them).

    Raises:
        KeyError: no trailing part of the path is a key.
    """
    import os.path as osp
    parts = osp.splitext(img_path)[0].replace('\\', '/').split('/')
    for n in range(len(parts), 0, -1):
        cand = '/'.join(parts[-n:])
        if cand in keys:
            return cand
    raise KeyError(img_path)
