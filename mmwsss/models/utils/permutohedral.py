"""Gaussian filtering in feature space, exact and with the permutohedral lattice.

Both filters compute the *unnormalised* Gaussian filter of rloss / ToCo's
``bilateralfilter`` extension,

    out_i = sum_j exp(-|f_i - f_j|^2 / 2) * v_j        (self term j = i included),

for every point i of every image in a batch, all value channels at once:

* :func:`gaussian_filter_dense` evaluates the sum exactly, O(N^2) per image, in
  chunks of query points so that memory stays bounded.
* :class:`PermutohedralLattice` / :func:`permutohedral_filter` approximate it in
  O(N d^2) with the permutohedral lattice of Adams, Baek and Davis, "Fast
  High-Dimensional Filtering Using the Permutohedral Lattice" (Eurographics 2010),
  in pure PyTorch (CPU and CUDA, no compiled extension):

  1. *elevate* each d-dimensional feature onto the hyperplane H_d = {x in R^{d+1}:
     sum x = 0}, scaled so that the lattice blur below approximates a Gaussian of
     unit standard deviation in feature space;
  2. find the simplex of the lattice A*_d enclosing the elevated point (closest
     remainder-0 point by rounding, then the ordering of the residuals), and the
     point's barycentric weights on the simplex's d + 1 vertices;
  3. *splat*: each point adds weight * value onto its d + 1 vertices
     (``index_add``; lattice points are hashed by ``torch.unique`` on one int64
     code per vertex);
  4. *blur*: along each of the d + 1 lattice directions, v <- v + (v_prev + v_next) / 2
     (kernel [1/2, 1, 1/2]; a missing neighbour counts as 0; neighbours are found
     by ``torch.searchsorted`` on the sorted vertex codes);
  5. *slice*: each point gathers its vertices' values with the same barycentric
     weights, times the gain constant alpha = 1 / (1 + 2^-d).

  The constants (feature scale (d+1) sqrt(2/3) / sqrt((i+1)(i+2)), the [1/2, 1, 1/2]
  blur, alpha, the forward direction order 0..d) are those of the lattice in
  rloss's ``bilateralfilter`` (Kraehenbuehl's DenseCRF implementation of the
  paper), so both compute the same approximation; differences come only from
  float32 summation order and from rounding ties (torch.round rounds half to
  even, as the SSE build of the extension does). ``sse_blocks=True`` also
  reproduces that build's padding of the points to a multiple of 4.

The lattice filter is an approximation, and not an unbiased one: blur mass sent
to lattice vertices that no point touched is dropped, so on bilateral features
of photos at ToCo's sigmas (d = 5, sparse in colour) it returns about 0.5-0.6 x
the exact sum, with a further ~6-7 % relative error after removing that global
scale (on a fine 2-D grid: 0.886 x). Its matrix is also not exactly symmetric
(blur passes along different directions do not commute on a partial lattice).
Measured numbers: ``docs/en/dense_energy_loss.md``. It matches the official
extension to float32 rounding (checked against a build of its C++ code).
"""
import math
from typing import List, Optional, Tuple

import torch
from torch import Tensor

__all__ = ['PermutohedralLattice', 'permutohedral_filter', 'gaussian_filter_dense']

# Codes of lattice vertices must fit in int64 with room to spare.
_MAX_CODE = 2**62


def _as_batched(features: Tensor,
                values: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor], bool]:
    """Accept (N, D) / (N, C) or (B, N, D) / (B, N, C); return batched and a squeeze flag."""
    squeeze = features.dim() == 2
    if squeeze:
        features = features.unsqueeze(0)
        if values is not None:
            values = values.unsqueeze(0)
    if features.dim() != 3:
        raise ValueError(f'features must be (N, D) or (B, N, D), got {tuple(features.shape)}')
    if values is not None and (values.dim() != 3 or values.shape[:2] != features.shape[:2]):
        raise ValueError(f'values must be (B, N, C) matching features {tuple(features.shape)}, '
                         f'got {tuple(values.shape)}')
    return features, values, squeeze


class PermutohedralLattice:
    """The permutohedral lattice of a batch of point sets, reusable for many filters.

    Building the lattice (elevation, simplex search, hashing, neighbour lookup)
    depends only on the features; :meth:`filter` then costs one splat, d + 1
    blur passes and one slice per call. Points of different images never share a
    lattice vertex (the image index is part of each vertex's code).

    Args:
        features: (B, N, d) or (N, d) float features, already divided by the
            Gaussian's standard deviations (the filter has unit std).
        sse_blocks: reproduce the SSE build of the extension exactly: when N is
            not a multiple of 4 it also hashes (never splats) the simplex of the
            zero feature, once per image. This changes outputs only near the
            origin of feature space and only when N % 4 != 0 (not for ToCo's
            224 x 224); the paper's algorithm is ``False``.

    Attributes:
        batch_size, num_points, dim: B, N, d.
        num_vertices: M, the number of lattice vertices over the whole batch.
        offsets: (B * N, d + 1) int64 vertex index of each point's simplex vertices.
        weights: (B * N, d + 1) barycentric weights (sum 1 per point).
        neighbours: (d + 1, 2, M + 1) int64, the previous / next vertex along each
            direction; M (the extra, always-zero row) where the neighbour is absent.
    """

    def __init__(self, features: Tensor, sse_blocks: bool = False) -> None:
        features, _, self._squeeze = _as_batched(features)
        if not features.is_floating_point():
            raise TypeError(f'features must be floating point, got {features.dtype}')
        features = features.detach()
        self.batch_size, self.num_points, self.dim = features.shape
        self.device = features.device
        d = self.dim
        B, N = self.batch_size, self.num_points
        # the extension's SSE build (every x86 build) embeds points in blocks of 4 and
        # pads the last block with zero features: their simplex vertices enter the
        # hash table (never splatted) and relay blur mass between their neighbours
        pad = (-N) % 4 if sse_blocks else 0
        if pad:
            features = torch.cat([features, features.new_zeros(B, pad, d)], 1)
        Np = N + pad
        flat = features.reshape(B * Np, d)
        elevated = self._elevate(flat)
        rem0, rank = self._enclosing_simplex(elevated)
        weights = self._barycentric(elevated, rem0, rank).to(features.dtype)
        keys = self._vertex_keys(rem0, rank)  # (B * Np, d + 1, d)
        batch = torch.arange(B, device=self.device).repeat_interleave(Np)
        offsets, self.neighbours, self.num_vertices = self._hash(keys, batch)
        real = torch.arange(Np, device=self.device) < N
        real = real.repeat(B)
        self.weights, self.offsets = weights[real], offsets[real]
        # the gain constant of the lattice (rloss / DenseCRF), 0.97 for d = 5
        self.alpha = 1.0 / (1.0 + 2.0**(-d))

    # ------------------------------------------------------------------ init

    def _elevate(self, f: Tensor) -> Tensor:
        """Map (P, d) features onto H_d: (P, d + 1) with zero coordinate sum.

        E has the orthogonal columns of Adams et al. (p. 5): feature i (scaled by
        1 / sqrt((i+1)(i+2))) adds 1 to coordinates 0..i and -(i+1) to coordinate
        i + 1. The extra factor (d + 1) sqrt(2/3) is the inverse of the standard
        deviation of the lattice blur (p. 6), so that the blur approximates a
        Gaussian of unit std in the original feature space.
        """
        d = self.dim
        # rounded as in the extension: inv_std in float32, each factor in double
        inv_std = float(torch.tensor(math.sqrt(2.0 / 3.0) * (d + 1), dtype=torch.float32))
        scale = torch.tensor([inv_std / math.sqrt((i + 1) * (i + 2)) for i in range(d)],
                             dtype=torch.float64).to(
                                 device=f.device, dtype=f.dtype)
        cf = f * scale  # (P, d)
        # suffix[j] = sum_{k >= j} cf_k, j = 0..d (suffix[d] = 0)
        suffix = torch.flip(torch.cumsum(torch.flip(cf, [1]), 1), [1])
        zeros = cf.new_zeros(cf.shape[0], 1)
        suffix = torch.cat([suffix, zeros], 1)
        cf_prev = torch.cat([zeros, cf], 1)  # cf_prev[j] = cf_{j-1}
        j = torch.arange(d + 1, device=f.device, dtype=f.dtype)
        return suffix - j * cf_prev  # (P, d + 1)

    def _enclosing_simplex(self, elevated: Tensor) -> Tuple[Tensor, Tensor]:
        """Closest remainder-0 point (P, d + 1) int64 and the rank (P, d + 1) int64.

        Round every coordinate to a multiple of d + 1; the residuals' order (rank
        0 = largest residual, ties broken towards the lower index) gives the
        simplex. If the rounded point is off the plane (its coordinates sum to
        s(d+1), s != 0), the s coordinates with the most extreme ranks are moved
        by -/+ (d + 1) and the ranks shift by s, which puts it back on H_d.
        """
        d1 = self.dim + 1
        rd = torch.round(elevated * (1.0 / d1))
        rem0 = (rd * d1).long()
        total = rd.sum(1).long()  # (P,)
        diff = elevated - rd * d1
        # rank_i = #{j > i: diff_j > diff_i} + #{j < i: diff_j >= diff_i}
        dj = diff.unsqueeze(1)  # [p, 1, j]
        di = diff.unsqueeze(2)  # [p, i, 1]
        idx = torch.arange(d1, device=elevated.device)
        upper = idx.view(1, -1) > idx.view(-1, 1)  # [i, j]: j > i
        lower = idx.view(1, -1) < idx.view(-1, 1)  # [i, j]: j < i
        rank = ((dj > di) & upper).sum(2) + ((dj >= di) & lower).sum(2)
        rank = rank + total.unsqueeze(1)
        low = (rank < 0).long()
        high = (rank > self.dim).long()
        rank = rank + d1 * (low - high)
        rem0 = rem0 + d1 * (low - high)
        return rem0, rank

    def _barycentric(self, elevated: Tensor, rem0: Tensor, rank: Tensor) -> Tensor:
        """(P, d + 1) barycentric weights of each point on its simplex vertices 0..d.

        Vertex r of the simplex is rem0 + the canonical offset of remainder r;
        its weight is the difference of two consecutive sorted residuals (scaled by
        1 / (d + 1)), with the wrap-around b_0 += 1 + b_{d+1} (Adams et al. p. 10).
        """
        d = self.dim
        v = (elevated - rem0.to(elevated.dtype)) * (1.0 / (d + 1))
        bary = elevated.new_zeros(elevated.shape[0], d + 2)
        bary.scatter_add_(1, d - rank, v)
        bary.scatter_add_(1, d - rank + 1, -v)
        bary[:, 0] += 1.0 + bary[:, d + 1]
        return bary[:, :d + 1]

    def _vertex_keys(self, rem0: Tensor, rank: Tensor) -> Tensor:
        """(P, d + 1, d) int64: the first d lattice coordinates of each simplex vertex.

        The canonical simplex of remainder r has coordinate r where the rank is at
        most d - r, and r - (d + 1) elsewhere. The last coordinate is implied by the
        zero sum and is not stored.
        """
        d = self.dim
        r = torch.arange(d + 1, device=rem0.device).view(1, -1, 1)  # [., r, .]
        rk = rank[:, :d].unsqueeze(1)  # [p, ., i]
        canonical = r - (d + 1) * (rk > d - r).long()
        return rem0[:, :d].unsqueeze(1) + canonical

    def _hash(self, keys: Tensor, batch: Tensor) -> Tuple[Tensor, Tensor, int]:
        """Unique vertices, each point's vertex indices and the blur neighbours.

        Returns:
            offsets (P, d + 1), neighbours (d + 1, 2, M + 1), M.
        """
        d = self.dim
        P = keys.shape[0]
        # direction j moves by (+d at coordinate j, -1 at every other one); for
        # j = d only the implied last coordinate gets +d, so all stored ones get -1
        delta = torch.full((d + 1, d), -1, dtype=torch.long, device=keys.device)
        delta[torch.arange(d), torch.arange(d)] = d
        if P == 0:
            empty = torch.zeros(0, d + 1, dtype=torch.long, device=keys.device)
            return empty, torch.zeros(d + 1, 2, 1, dtype=torch.long, device=keys.device), 0
        lo = keys.amin(dim=(0, 1)) - (d + 1)
        hi = keys.amax(dim=(0, 1)) + (d + 1)
        spans = [int(s) for s in (hi - lo + 1).tolist()]
        total = self.batch_size
        for s in spans:
            total *= s
        if total < _MAX_CODE:
            return self._hash_codes(keys, batch, lo, spans, delta)
        return self._hash_rows(keys, batch, delta)

    def _hash_codes(self, keys: Tensor, batch: Tensor, lo: Tensor, spans: List[int],
                    delta: Tensor) -> Tuple[Tensor, Tensor, int]:
        """Hash by one mixed-radix int64 code per vertex (the fast path).

        Coordinates are offset by ``lo`` (the minimum minus d + 1), so that every
        neighbour of an existing vertex also has in-range digits and its code is
        the vertex's code plus a constant per direction.
        """
        d = self.dim
        strides = [1] * d
        for i in range(d - 2, -1, -1):
            strides[i] = strides[i + 1] * spans[i + 1]
        batch_stride = strides[0] * spans[0]
        stride_t = torch.tensor(strides, dtype=torch.long, device=keys.device)
        codes = ((keys - lo) * stride_t).sum(-1) + (batch * batch_stride).unsqueeze(1)
        uniq, inverse = torch.unique(codes.reshape(-1), sorted=True, return_inverse=True)
        M = uniq.numel()
        offsets = inverse.view(-1, d + 1)
        shift = (delta * stride_t).sum(-1)  # (d + 1,)
        neighbours = uniq.new_full((d + 1, 2, M + 1), M)
        for j in range(d + 1):
            for s, sign in enumerate((-1, 1)):
                query = uniq + sign * shift[j]
                pos = torch.searchsorted(uniq, query).clamp_(max=M - 1)
                found = uniq[pos] == query
                neighbours[j, s, :M] = torch.where(found, pos, torch.full_like(pos, M))
        return offsets, neighbours, M

    def _hash_rows(self, keys: Tensor, batch: Tensor, delta: Tensor) -> Tuple[Tensor, Tensor, int]:
        """Hash by unique rows, for coordinate ranges too wide for one int64 code.

        Neighbours are found by running ``torch.unique`` over the vertices and the
        queried rows together: a query row is present iff it lands on the unique
        id of a vertex.
        """
        d = self.dim
        rows = torch.cat([batch.view(-1, 1, 1).expand(-1, d + 1, 1), keys], 2).reshape(-1, d + 1)
        uniq, inverse = torch.unique(rows, dim=0, sorted=True, return_inverse=True)
        M = uniq.shape[0]
        offsets = inverse.view(-1, d + 1)
        step = torch.cat([delta.new_zeros(d + 1, 1), delta], 1)  # batch unchanged
        neighbours = uniq.new_full((d + 1, 2, M + 1), M)
        for j in range(d + 1):
            for s, sign in enumerate((-1, 1)):
                query = uniq + sign * step[j]
                _, inv = torch.unique(torch.cat([uniq, query]), dim=0, return_inverse=True)
                # unique ids of the vertices themselves -> vertex index
                table = inv.new_full((int(inv.max()) + 1, ), M)
                table[inv[:M]] = torch.arange(M, device=inv.device)
                neighbours[j, s, :M] = table[inv[M:]]
        return offsets, neighbours, M

    # ---------------------------------------------------------------- filter

    def filter(self, values: Tensor) -> Tensor:
        """Approximate out_i = sum_j exp(-|f_i - f_j|^2 / 2) v_j (per image).

        Differentiable in ``values`` (it is linear in them; autograd goes through
        index_add / indexing).

        Args:
            values: (B, N, C) (or (N, C) if the lattice was built from (N, d)).

        Returns:
            (B, N, C) (or (N, C)), in the dtype of ``values``.
        """
        if self._squeeze and values.dim() == 2:
            values = values.unsqueeze(0)
        B, N = self.batch_size, self.num_points
        if values.dim() != 3 or values.shape[:2] != (B, N):
            raise ValueError(f'values must be ({B}, {N}, C), got {tuple(values.shape)}')
        C = values.shape[2]
        v = values.reshape(B * N, C)
        w = self.weights.to(device=v.device, dtype=v.dtype)
        d1 = self.dim + 1
        # splat (row M stays zero: it stands for every absent neighbour)
        lattice = v.new_zeros(self.num_vertices + 1, C)
        for r in range(d1):
            lattice = lattice.index_add(0, self.offsets[:, r], w[:, r:r + 1] * v)
        # blur along the d + 1 lattice directions, in order 0..d
        for j in range(d1):
            lattice = lattice + 0.5 * (
                lattice[self.neighbours[j, 0]] + lattice[self.neighbours[j, 1]])
        # slice
        out = v.new_zeros(B * N, C)
        for r in range(d1):
            out = out + w[:, r:r + 1] * lattice[self.offsets[:, r]]
        out = (out * self.alpha).view(B, N, C)
        return out[0] if self._squeeze else out


def permutohedral_filter(features: Tensor, values: Tensor, sse_blocks: bool = False) -> Tensor:
    """Permutohedral-lattice approximation of the unnormalised Gaussian filter.

        out[b, i] ~= sum_j exp(-|f[b, i] - f[b, j]|^2 / 2) * values[b, j]

    Args:
        features: (B, N, D) or (N, D) features scaled to unit std.
        values: (B, N, C) or (N, C).
        sse_blocks: see :class:`PermutohedralLattice`.

    Returns:
        (B, N, C) or (N, C).
    """
    return PermutohedralLattice(features, sse_blocks).filter(values)


def _dense_forward(features: Tensor, values: Tensor, chunk: int) -> Tensor:
    """Exact chunked filter; features (B, N, D) centred, values (B, N, C)."""
    sq = (features * features).sum(-1)  # (B, N)
    out = []
    for start in range(0, features.shape[1], chunk):
        fi = features[:, start:start + chunk]  # (B, n, D)
        d2 = sq[:, start:start + chunk, None] + sq[:, None, :] - 2 * fi @ features.transpose(1, 2)
        out.append(torch.exp(-0.5 * d2.clamp_(min=0)) @ values)  # (B, n, C)
    return torch.cat(out, 1)


class _DenseGaussian(torch.autograd.Function):
    """Exact filter with a chunked backward: the kernel is symmetric, so dL/dv = W dL/dout."""

    @staticmethod
    def forward(ctx, features: Tensor, values: Tensor, chunk: int) -> Tensor:
        ctx.save_for_backward(features)
        ctx.chunk = chunk
        return _dense_forward(features, values, chunk)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        features, = ctx.saved_tensors
        grad_values = _dense_forward(features, grad_out.to(features.dtype), ctx.chunk)
        return None, grad_values.to(grad_out.dtype), None


def gaussian_filter_dense(features: Tensor, values: Tensor, chunk: Optional[int] = None) -> Tensor:
    """Exact O(N^2) unnormalised Gaussian filter, in chunks of query points.

        out[b, i] = sum_j exp(-|f[b, i] - f[b, j]|^2 / 2) * values[b, j]

    Squared distances use |a|^2 + |b|^2 - 2 a.b on features centred per image
    (distances are shift invariant; centring keeps the cancellation error small),
    clamped at 0. In float32 the absolute error of a squared distance is about
    1e-7 x max |f - mean f|^2: ~1e-4 for ToCo's bilateral features (relative
    kernel error ~5e-5); pass float64 features for large feature values.
    Memory holds ``chunk`` x N kernel entries per image at a time; the backward
    in ``values`` recomputes the kernel chunk by chunk (no N x N storage). If
    ``features`` requires grad, plain autograd is used instead (which stores
    every chunk's kernel: only for small N).

    Args:
        features: (B, N, D) or (N, D), already divided by the standard deviations.
        values: (B, N, C) or (N, C).
        chunk: query points per chunk (per image); default max(1, 2^24 // (B N)),
            64 MiB of float32 kernel per chunk over the batch.

    Returns:
        (B, N, C) or (N, C), in the dtype of ``values``.
    """
    features, values, squeeze = _as_batched(features, values)
    B, N = features.shape[:2]
    if chunk is None:
        chunk = max(1, 2**24 // max(B * N, 1))
    if chunk < 1:
        raise ValueError(f'chunk must be >= 1, got {chunk}')
    centred = features - features.mean(1, keepdim=True)
    vals = values.to(features.dtype)
    if features.requires_grad and torch.is_grad_enabled():
        out = _dense_forward(centred, vals, chunk)
    else:
        out = _DenseGaussian.apply(centred.detach(), vals, chunk)
    out = out.to(values.dtype)
    return out[0] if squeeze else out
