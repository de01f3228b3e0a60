"""Random walk on local pairwise affinities, shared by AffinityNet (PSA) and IRN.

Both methods build a transition matrix over the pixels of a low-resolution map
whose only non-zero entries are the pixel itself and the pixels within
``radius``, then propagate class scores with T^(2^logt). The official code
materialises a dense (HW, HW) matrix and squares it ``logt`` times. Here the
same operator is stored as per-neighbour weights (B, N, h, w) and applied
``2^logt`` times locally (``mode='local'``, the default: shifted slices;
``'sparse'``: a sparse CSR matrix), which is mathematically identical to the
dense matrix power (T^256 v = T(T(...T v))) at O(hw * N) memory per step. ``mode='dense'`` keeps
the official dense matrix power for small maps and for tests.

Conventions used throughout:
    * offsets ``(dy, dx)``: the "half" neighbourhood of PSA's / IRN's
      ``get_indices_of_pairs``: (0, x) for 0 < x < r, and (y, x) for 0 < y < r,
      |x| < r, x^2 + y^2 < r^2. Each unordered pair appears once.
    * ``aff_half``: (B, K, h, w); ``aff_half[b, k, y, x]`` is the affinity between
      pixel (y, x) and (y + dy_k, x + dx_k); 0 where that partner is outside.
    * transition: ``v'(p) = sum_n W(p, n) v(p + n)`` over the full symmetric
      neighbourhood n in {0} + offsets + (-offsets), with
      W(p, n) = A(p, p + n)^beta / sum_n' A(p, p + n')^beta and A(p, p) = 1.
      This equals ``v @ T`` with PSA's column-normalised T = A^beta / sum_col.
"""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils.freeze import freeze

Offset = Tuple[int, int]
RW_MODES = ('sparse', 'local', 'dense')


def pair_offsets(radius: int) -> List[Offset]:
    """Half-neighbourhood offsets within ``radius`` in PSA / IRN order.

    radius 5 gives 34 offsets, radius 10 gives 152 (IRN training).
    """
    if radius < 2:
        raise ValueError(f'radius must be >= 2, got {radius}')
    offsets = [(0, x) for x in range(1, radius)]
    for y in range(1, radius):
        for x in range(-radius + 1, radius):
            if x * x + y * y < radius * radius:
                offsets.append((y, x))
    return offsets


def pair_indices(radius: int, size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
    """Flat (from, to) pixel indices as PSA's ``get_indices_of_pairs``.

    Only pixels of the "cropped" region (rows < h - r + 1, r - 1 <= cols <
    w - r + 1) are sources, so every partner lies inside the map.

    Returns:
        ind_from: (M,) flat source indices, M = (h - r + 1) * (w - 2r + 2).
        ind_to: (K, M) flat destination indices, one row per offset.
    """
    h, w = size
    rf = radius - 1
    if h <= rf or w <= 2 * rf:
        raise ValueError(f'map {size} too small for radius {radius}')
    full = torch.arange(h * w).view(h, w)
    ch, cw = h - rf, w - 2 * rf
    ind_from = full[:ch, rf:rf + cw].reshape(-1)
    ind_to = torch.stack(
        [full[dy:dy + ch, rf + dx:rf + dx + cw].reshape(-1) for dy, dx in pair_offsets(radius)])
    return ind_from, ind_to


def path_offsets(radius: int) -> List[List[Offset]]:
    """For every pair offset, the grid cells on the segment from 0 to it (IRN).

    A cell (y, x) in the bounding box of (0, 0) and (dy, dx) is on the path
    when its distance to the line is < 1, as IRN's ``PathIndex``; the path
    includes both end points. Same order as :func:`pair_offsets`.
    """
    paths = []
    for dy, dx in pair_offsets(radius):
        len_sq = dy * dy + dx * dx
        cells = [(y, x) for y in range(min(0, dy),
                                       max(0, dy) + 1) for x in range(min(0, dx),
                                                                      max(0, dx) + 1)
                 if (dy * x - dx * y)**2 / len_sq < 1]
        paths.append(cells)
    return paths


def shift(x: Tensor, dy: int, dx: int, fill: float = 0.) -> Tensor:
    """``out[..., i, j] = x[..., i + dy, j + dx]``; ``fill`` outside the map."""
    h, w = x.shape[-2:]
    p = max(abs(dy), abs(dx))
    if p == 0:
        return x
    xp = F.pad(x, (p, p, p, p), value=fill)
    return xp[..., p + dy:p + dy + h, p + dx:p + dx + w]


def pair_valid_mask(size: Tuple[int, int],
                    offsets: Sequence[Offset],
                    crop_from: bool = False,
                    device=None) -> Tensor:
    """(K, h, w) bool: the partner of (y, x) along offset k is inside the map.

    ``crop_from=True`` also restricts sources to PSA's cropped region (the
    pairs PSA's dense matrix actually holds; see :func:`pair_indices`).
    """
    h, w = size
    ys = torch.arange(h, device=device).view(h, 1)
    xs = torch.arange(w, device=device).view(1, w)
    masks = []
    rf = max(max(abs(dy), abs(dx)) for dy, dx in offsets)
    for dy, dx in offsets:
        m = (ys + dy >= 0) & (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w)
        if crop_from:
            m = m & (ys < h - rf) & (xs >= rf) & (xs < w - rf)
        masks.append(m)
    return torch.stack(masks)


def feature_affinity(feats: Tensor, offsets: Sequence[Offset]) -> Tensor:
    """PSA pair affinity ``exp(-mean_c |f_i - f_j|)`` for every offset.

    Args:
        feats: (B, D, h, w) affinity features.
    Returns:
        (B, K, h, w); 0 where the partner is outside the map.
    """
    affs = []
    for dy, dx in offsets:
        dist = (feats - shift(feats, dy, dx)).abs().mean(1)
        affs.append(torch.exp(-dist))
    aff = torch.stack(affs, 1)
    valid = pair_valid_mask(feats.shape[-2:], offsets, device=feats.device)
    return aff * valid.to(aff.dtype)


def boundary_affinity(edge: Tensor, radius: int) -> Tensor:
    """IRN path affinity ``1 - max(edge over the path between i and j)``.

    Args:
        edge: (B, h, w) or (B, 1, h, w) class-boundary probabilities in [0, 1].
        radius: neighbourhood radius (5 for the random walk, 10 in training).
    Returns:
        (B, K, h, w) for :func:`pair_offsets(radius)`; 0 where the partner is
        outside the map (IRN pads the edge map with 1).
    """
    if edge.dim() == 4:
        edge = edge[:, 0]
    paths = path_offsets(radius)
    cells = sorted({c for path in paths for c in path})
    # one shifted copy per distinct path cell, padded with edge = 1 as IRN does
    shifted = {c: shift(edge, c[0], c[1], fill=1.) for c in cells}
    affs = [1 - torch.stack([shifted[c] for c in path], 0).amax(0) for path in paths]
    return torch.stack(affs, 1)


def full_offsets(offsets: Sequence[Offset]) -> List[Offset]:
    """Symmetric neighbourhood: identity, the offsets, then their negatives."""
    return [(0, 0)] + list(offsets) + [(-dy, -dx) for dy, dx in offsets]


def transition_weights(aff_half: Tensor, offsets: Sequence[Offset], beta: float) -> Tensor:
    """Normalised local transition weights W(p, n) (see module docstring).

    Args:
        aff_half: (B, K, h, w) pair affinities (0 = no pair).
        offsets: the K offsets of ``aff_half``.
        beta: power applied to the affinities (PSA 8, IRN 10).
    Returns:
        (B, 1 + 2K, h, w) weights over :func:`full_offsets(offsets)`; they sum
        to 1 over dim 1.
    """
    if aff_half.shape[1] != len(offsets):
        raise ValueError(f'aff_half has {aff_half.shape[1]} channels but '
                         f'{len(offsets)} offsets were given')
    if torch.isnan(aff_half).any():
        raise ValueError('affinities contain NaN values')
    a = aff_half.clamp(min=0)**beta
    # the pair (p, p - o) is stored at p - o under offset o
    back = torch.stack([shift(a[:, k], -dy, -dx) for k, (dy, dx) in enumerate(offsets)], 1)
    w = torch.cat([torch.ones_like(a[:, :1]), a, back], 1)
    return w / w.sum(1, keepdim=True)


def dense_transition(aff_half: Tensor, offsets: Sequence[Offset], beta: float) -> Tensor:
    """The official dense transition matrix T (B, hw, hw), built as PSA/IRN do.

    A = identity + symmetric pairs, A^beta elementwise, then column
    normalisation T = A / sum_i A[i, :]. Memory: B * (hw)^2 floats.
    """
    b, k, h, w = aff_half.shape
    n = h * w
    valid = pair_valid_mask((h, w), offsets, device=aff_half.device)
    src = torch.arange(n, device=aff_half.device).view(h, w)
    mats = []
    for i in range(b):
        a = torch.eye(n, dtype=aff_half.dtype, device=aff_half.device)
        for j, (dy, dx) in enumerate(offsets):
            m = valid[j]
            fr = src[m]
            to = shift(src, dy, dx, fill=-1)[m]
            val = aff_half[i, j][m]
            a[fr, to] = val
            a[to, fr] = val
        a = a.clamp(min=0)**beta
        mats.append(a / a.sum(0, keepdim=True))
    return torch.stack(mats)


def _propagate_local(x: Tensor, weights: Tensor, offs: Sequence[Offset], steps: int) -> Tensor:
    """``steps`` applications of the local operator with shifted slices."""
    p = max(max(abs(dy), abs(dx)) for dy, dx in offs)
    h, w = x.shape[-2:]
    wts = [weights[:, n:n + 1] for n in range(len(offs))]
    for _ in range(steps):
        xp = F.pad(x, (p, p, p, p))
        out = x * wts[0]
        for n in range(1, len(offs)):
            dy, dx = offs[n]
            out = out.addcmul_(xp[..., p + dy:p + dy + h, p + dx:p + dx + w], wts[n])
        x = out
    return x


def sparse_transition(weights: Tensor, offs: Sequence[Offset]) -> Tensor:
    """Block-diagonal CSR matrix M (B*hw, B*hw) with M[p, p + n] = W(p, n).

    ``M @ v`` (v: (B*hw, C)) is one random-walk step for the whole batch.
    """
    b, nn_, h, w = weights.shape
    device = weights.device
    idx = torch.arange(b * h * w, device=device).view(b, h, w)
    cols, vals, valid = [], [], []
    for n, (dy, dx) in enumerate(offs):
        col = shift(idx, dy, dx, fill=-1)
        cols.append(col)
        vals.append(weights[:, n])
        valid.append(col >= 0)
    # (B, h, w, N): entries of one row are contiguous, as CSR needs
    cols = torch.stack(cols, -1).reshape(-1, nn_)
    vals = torch.stack(vals, -1).reshape(-1, nn_)
    valid = torch.stack(valid, -1).reshape(-1, nn_)
    counts = valid.sum(1)
    crow = torch.zeros(counts.numel() + 1, dtype=torch.int64, device=device)
    crow[1:] = counts.cumsum(0)
    with warnings.catch_warnings():
        # CSR support is flagged beta in torch; the ops used here are stable
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(
            crow, cols[valid], vals[valid], size=(b * h * w, b * h * w), check_invariants=False)


def _propagate_sparse(x: Tensor, weights: Tensor, offs: Sequence[Offset], steps: int) -> Tensor:
    b, c, h, w = x.shape
    mat = sparse_transition(weights, offs)
    v = x.permute(0, 2, 3, 1).reshape(b * h * w, c)
    for _ in range(steps):
        v = mat @ v
    return v.view(b, h, w, c).permute(0, 3, 1, 2).contiguous()


def random_walk(x: Tensor,
                aff_half: Tensor,
                offsets: Sequence[Offset],
                beta: float,
                logt: int,
                mode: str = 'local') -> Tensor:
    """Propagate scores ``x`` with T^(2^logt) built from local affinities.

    Args:
        x: (B, C, h, w) scores to propagate (channels are independent).
        aff_half: (B, K, h, w) pair affinities for ``offsets`` (see module doc).
        offsets: K half-neighbourhood offsets, e.g. ``pair_offsets(5)``.
        beta: affinity power.
        logt: number of squarings; the walk takes 2^logt steps.
        mode: ``'local'`` (shifted slices, 2^logt steps; fastest on CPU),
            ``'sparse'`` (CSR matrix, 2^logt products) or ``'dense'`` (official (hw)^2
            matrix squared logt times).
    Returns:
        (B, C, h, w) propagated scores, ``x @ T^(2^logt)`` per image.
    """
    if mode not in RW_MODES:
        raise ValueError(f"unknown random-walk mode '{mode}', expected one of {RW_MODES}")
    if x.dim() != 4 or aff_half.dim() != 4:
        raise ValueError('x and aff_half must be 4-D (B, C, h, w), got '
                         f'{tuple(x.shape)} and {tuple(aff_half.shape)}')
    if x.shape[0] != aff_half.shape[0] or x.shape[-2:] != aff_half.shape[-2:]:
        raise ValueError(f'scores {tuple(x.shape)} and affinities {tuple(aff_half.shape)} '
                         'differ in batch or spatial size')
    if torch.isnan(x).any():
        raise ValueError('random-walk input scores contain NaN values')
    if logt < 0:
        raise ValueError(f'logt must be >= 0, got {logt}')
    if mode == 'dense':
        t = dense_transition(aff_half, offsets, beta)
        for _ in range(logt):
            t = torch.bmm(t, t)
        b, c, h, w = x.shape
        return torch.bmm(x.reshape(b, c, h * w), t).view(b, c, h, w)
    offs = full_offsets(offsets)
    weights = transition_weights(aff_half, offsets, beta)
    if mode == 'local':
        return _propagate_local(x, weights, offs, 2**logt)
    return _propagate_sparse(x, weights, offs, 2**logt)


def dense_memory_bytes(h: int, w: int, itemsize: int = 4) -> int:
    """Peak bytes the dense form needs for one (h, w) map: T, T @ T and A."""
    return 3 * (h * w)**2 * itemsize


def active_channels(x: Tensor) -> Tensor:
    """Indices of channels that are non-zero somewhere in the batch.

    Zero channels stay zero under the walk, so only these need propagating.
    """
    return (x.flatten(2).abs().amax(-1) > 0).any(0).nonzero().flatten()


def random_walk_active(x: Tensor,
                       aff_half: Tensor,
                       offsets: Sequence[Offset],
                       beta: float,
                       logt: int,
                       mode: str = 'local') -> Tensor:
    """:func:`random_walk` on the non-zero channels only (others stay 0)."""
    keep = active_channels(x)
    out = torch.zeros_like(x)
    if keep.numel():
        out[:, keep] = random_walk(x[:, keep], aff_half, offsets, beta, logt, mode)
    return out


def build_frozen_model(model: Union[dict, torch.nn.Module, None]) -> Optional[torch.nn.Module]:
    """Build a trained affinity / boundary network for a refiner, in eval mode.

    ``model`` is either a module, a model config dict (optionally with a
    ``checkpoint`` key), or ``dict(config='cfg.py', checkpoint='x.pth')``
    naming a training config whose ``model`` is built.
    """
    if model is None or isinstance(model, torch.nn.Module):
        net = model
    else:
        from mmengine.config import Config
        from mmengine.runner import load_checkpoint

        from mmwsss.registry import MODELS
        model = dict(model)
        checkpoint = model.pop('checkpoint', None)
        if 'config' in model:
            cfg = Config.fromfile(model.pop('config'))
            model_cfg = cfg.model
        else:
            model_cfg = model
        from mmengine.registry import init_default_scope
        init_default_scope('mmwsss')
        net = MODELS.build(model_cfg)
        if checkpoint is not None:
            load_checkpoint(net, checkpoint, map_location='cpu')
    if net is not None:
        freeze(net)
    return net


def image_to_input(img: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(B, 3, H, W) uint8 RGB -> normalised float network input (RGB order)."""
    mean_t = torch.as_tensor(mean, dtype=torch.float32, device=img.device).view(1, 3, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32, device=img.device).view(1, 3, 1, 1)
    return (img.float() - mean_t) / std_t


def preprocessor_mean_std(model: Optional[torch.nn.Module], mean: Optional[Sequence[float]],
                          std: Optional[Sequence[float]]) -> Dict[str, Sequence[float]]:
    """Mean/std for the refiner input: explicit values win, then the model's
    data preprocessor (assumed to output RGB), then ImageNet RGB statistics."""
    if mean is None or std is None:
        pre = getattr(model, 'data_preprocessor', None)
        if pre is not None and getattr(pre, '_enable_normalize', False):
            mean = mean or pre.mean.flatten().tolist()
            std = std or pre.std.flatten().tolist()
    return dict(mean=mean or (123.675, 116.28, 103.53), std=std or (58.395, 57.12, 57.375))
