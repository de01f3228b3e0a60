"""Permutohedral-lattice and exact Gaussian filters (mmwsss.models.utils.permutohedral)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.utils import permutohedral as perm
from mmwsss.models.utils.permutohedral import (PermutohedralLattice, gaussian_filter_dense,
                                               permutohedral_filter)


def _explicit_kernel(f: torch.Tensor) -> torch.Tensor:
    """(N, N) matrix exp(-|f_i - f_j|^2 / 2), straight from the definition."""
    diff = f[:, None, :] - f[None, :, :]
    return torch.exp(-0.5 * (diff**2).sum(-1))


def _synthetic_image(H: int, W: int, seed: int) -> torch.Tensor:
    """(3, H, W) photo-like image: 4 flat colour regions + a vertical ramp + noise."""
    g = torch.Generator().manual_seed(seed)
    field = F.interpolate(
        torch.randn(1, 4, 4, 5, generator=g) * 3, size=(H, W), mode='bilinear', align_corners=False)
    colours = torch.rand(4, 3, generator=g) * 255
    img = colours[field.argmax(1)[0]].permute(2, 0, 1)
    img = img + torch.linspace(0, 30, H).view(H, 1) + torch.randn(3, H, W, generator=g) * 4
    return img.clamp(0, 255)


def _bilateral(img: torch.Tensor, sigma_rgb: float, sigma_xy: float) -> torch.Tensor:
    """(1, H*W, 5) features (x, y) / sigma_xy, rgb / sigma_rgb."""
    H, W = img.shape[1:]
    ys, xs = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing='ij')
    return torch.cat([torch.stack([xs, ys]) / sigma_xy, img / sigma_rgb]).flatten(1).T[None]


# ------------------------------------------------------------------ exact filter


def test_dense_filter_three_points_by_hand():
    # 1-D points 0, 1, 3: squared distances 1, 9, 4
    f = torch.tensor([[0.], [1.], [3.]], dtype=torch.float64)
    v = torch.tensor([[1.], [2.], [4.]], dtype=torch.float64)
    e1, e4, e9 = math.exp(-0.5), math.exp(-2.0), math.exp(-4.5)
    expected = torch.tensor([[1 + 2 * e1 + 4 * e9], [e1 + 2 + 4 * e4], [e9 + 2 * e4 + 4]],
                            dtype=torch.float64)
    torch.testing.assert_close(gaussian_filter_dense(f, v), expected)


@pytest.mark.parametrize('chunk', [1, 7, None])
def test_dense_filter_chunks_and_batch(chunk):
    torch.manual_seed(0)
    f = torch.randn(2, 30, 4, dtype=torch.float64) * 2 + 50  # far from 0: centring matters
    v = torch.rand(2, 30, 3, dtype=torch.float64)
    out = gaussian_filter_dense(f, v, chunk=chunk)
    for b in range(2):
        torch.testing.assert_close(out[b], _explicit_kernel(f[b]) @ v[b])


def test_dense_filter_backward_is_kernel_times_grad():
    torch.manual_seed(1)
    f = torch.randn(1, 25, 3, dtype=torch.float64)
    v = torch.rand(1, 25, 2, dtype=torch.float64, requires_grad=True)
    g = torch.rand(1, 25, 2, dtype=torch.float64)
    (gaussian_filter_dense(f, v, chunk=4) * g).sum().backward()
    torch.testing.assert_close(v.grad[0], _explicit_kernel(f[0]) @ g[0])
    # features with grad: plain autograd path, same forward
    fr = f.clone().requires_grad_(True)
    torch.testing.assert_close(
        gaussian_filter_dense(fr, v.detach()), gaussian_filter_dense(f, v.detach()))


# --------------------------------------------------------------- lattice geometry


@pytest.mark.parametrize('d', [1, 2, 3, 5])
def test_elevation_is_scaled_isometry_onto_hyperplane(d):
    torch.manual_seed(d)
    f = torch.randn(40, d, dtype=torch.float64)
    lat = PermutohedralLattice(torch.zeros(1, d, dtype=torch.float64))
    e = lat._elevate(f)
    torch.testing.assert_close(e.sum(1), torch.zeros(40, dtype=torch.float64))
    # |E f1 - E f2| = (d + 1) sqrt(2/3) |f1 - f2|
    inv_std = (d + 1) * math.sqrt(2 / 3)
    torch.testing.assert_close(torch.cdist(e, e), inv_std * torch.cdist(f, f), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('d', [1, 2, 3, 5])
def test_barycentric_weights_reconstruct_the_point(d):
    torch.manual_seed(10 + d)
    f = torch.randn(300, d, dtype=torch.float64) * 3
    lat = PermutohedralLattice(f)
    elevated = lat._elevate(f)
    rem0, rank = lat._enclosing_simplex(elevated)
    w = lat._barycentric(elevated, rem0, rank)
    keys = lat._vertex_keys(rem0, rank)  # (P, d+1, d)
    full = torch.cat([keys, -keys.sum(-1, keepdim=True)], -1)  # zero-sum coords
    r = torch.arange(d + 1).view(1, -1, 1)
    # vertex r is a remainder-r lattice point: every coordinate = r mod (d + 1)
    assert torch.equal(torch.remainder(full - r, d + 1), torch.zeros_like(full))
    assert (w >= -1e-12).all()
    torch.testing.assert_close(w.sum(1), torch.ones(300, dtype=torch.float64))
    torch.testing.assert_close((w.unsqueeze(-1) * full.double()).sum(1), elevated)
    # a lattice simplex: vertex r - vertex s (r > s) has entries r - s or r - s - (d + 1)
    for r_ in range(1, d + 1):
        for s_ in range(r_):
            gap = full[:, r_] - full[:, s_]
            assert ((gap == r_ - s_) | (gap == r_ - s_ - d - 1)).all()


def test_neighbours_are_symmetric():
    torch.manual_seed(3)
    lat = PermutohedralLattice(torch.randn(2, 200, 5) * 2)
    M = lat.num_vertices
    nb = lat.neighbours
    for j in range(6):
        prev, nxt = nb[j, 0, :M], nb[j, 1, :M]
        has = nxt < M
        # the 'previous' of my 'next' is me
        assert torch.equal(nb[j, 0][nxt[has]], torch.arange(M)[has])
        has = prev < M
        assert torch.equal(nb[j, 1][prev[has]], torch.arange(M)[has])
    assert (nb[:, :, M] == M).all()


# --------------------------------------------------------------- lattice values


def test_isolated_point_1d_by_hand():
    # d = 1: the point at 0 touches the vertices 0 and 1 (barycentric 1, 0); two
    # blur passes along the one axis: (1, 0) -> (1, 1/2) -> (1 + 1/4, ...) and
    # alpha = 1 / (1 + 1/2): 5/4 * 2/3 = 5/6
    out = permutohedral_filter(torch.zeros(1, 1), torch.ones(1, 1))
    assert out.item() == pytest.approx(5 / 6, abs=1e-6)
    # halfway between the two vertices (elevated coordinate 1/2, f = 1/2 / (2/sqrt 3)):
    # splat (1/2, 1/2) -> (3/4, 3/4) -> (9/8, 9/8); slice 9/8, times 2/3 = 3/4
    out = permutohedral_filter(torch.full((1, 1), 0.5 * math.sqrt(3) / 2), torch.ones(1, 1))
    assert out.item() == pytest.approx(0.75, abs=1e-6)


def test_isolated_point_2d_by_hand():
    # d = 2, point at 0: vertices v0 = (0,0,0), v1 = (1,1,-2), v2 = (2,-1,-1), mutually
    # adjacent along directions 2 (v0-v1), 0 (v0-v2) and 1 (v1-v2). Start (1, 0, 0):
    # pass 0: v2 = 1/2; pass 1: v1 = 1/4; pass 2: v0 = 1 + 1/8. alpha = 1/(1 + 1/4).
    out = permutohedral_filter(torch.zeros(1, 2), torch.ones(1, 1))
    assert out.item() == pytest.approx(1.125 * 0.8, abs=1e-6)


def test_sse_blocks_padding_by_hand():
    # d = 1, one point at elevated coordinate 3/2: vertices 1 and 2, weights (1/2, 1/2).
    # Plain lattice: as the halfway case above, 3/4.
    f = torch.full((1, 1), 1.5 * math.sqrt(3) / 2)
    assert permutohedral_filter(f, torch.ones(1, 1)).item() == pytest.approx(0.75, abs=1e-6)
    # SSE build: N = 1 is padded to 4 with zero features, whose simplex {0, 1} joins
    # the hash table. Vertices (0, 1, 2) = (0, 1/2, 1/2) -> (1/4, 3/4, 3/4)
    # -> (5/8, 5/4, 9/8); slice (5/4 + 9/8) / 2 = 19/16, times 2/3 = 19/24
    out = permutohedral_filter(f, torch.ones(1, 1), sse_blocks=True)
    assert out.item() == pytest.approx(19 / 24, abs=1e-6)
    # N a multiple of 4: no padding, identical results
    torch.manual_seed(11)
    g, v = torch.randn(2, 16, 5), torch.rand(2, 16, 2)
    assert torch.equal(permutohedral_filter(g, v, sse_blocks=True), permutohedral_filter(g, v))


def test_lattice_is_linear_and_constant_signals_are_exact():
    torch.manual_seed(4)
    lat = PermutohedralLattice(torch.randn(2, 150, 5))
    u, v = torch.rand(2, 150, 3), torch.rand(2, 150, 3)
    torch.testing.assert_close(
        lat.filter(2 * u - 3 * v), 2 * lat.filter(u) - 3 * lat.filter(v), rtol=1e-5, atol=1e-5)
    ones = torch.ones(2, 150, 1)
    norm = lat.filter(ones)
    # a constant signal: the filter of c is c times the filter of 1, so the
    # normalised filter reproduces the constant exactly
    torch.testing.assert_close(lat.filter(ones * 7.5) / norm, torch.full_like(norm, 7.5))
    assert (norm > 0).all()


def test_batch_images_do_not_interact_and_order_does_not_matter():
    torch.manual_seed(5)
    f = torch.randn(3, 120, 5)
    v = torch.rand(3, 120, 4)
    out = permutohedral_filter(f, v)
    for b in range(3):
        torch.testing.assert_close(out[b], permutohedral_filter(f[b], v[b]), rtol=1e-5, atol=1e-6)
    # identical features in two images give identical outputs
    same = permutohedral_filter(f[:1].expand(2, -1, -1), v[:1].expand(2, -1, -1))
    torch.testing.assert_close(same[0], same[1])
    perm_idx = torch.randperm(120)
    torch.testing.assert_close(
        permutohedral_filter(f[0, perm_idx], v[0, perm_idx]),
        out[0, perm_idx],
        rtol=1e-5,
        atol=1e-6)


def test_far_clusters_are_independent():
    torch.manual_seed(6)
    a, b = torch.randn(60, 5), torch.randn(50, 5) + 40.
    va, vb = torch.rand(60, 2), torch.rand(50, 2)
    both = permutohedral_filter(torch.cat([a, b]), torch.cat([va, vb]))
    torch.testing.assert_close(both[:60], permutohedral_filter(a, va), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(both[60:], permutohedral_filter(b, vb), rtol=1e-5, atol=1e-6)


def test_row_hash_fallback_matches_codes(monkeypatch):
    torch.manual_seed(7)
    f, v = torch.randn(2, 200, 5) * 3, torch.rand(2, 200, 3)
    fast = PermutohedralLattice(f)
    monkeypatch.setattr(perm, '_MAX_CODE', 1)
    slow = PermutohedralLattice(f)
    assert slow.num_vertices == fast.num_vertices
    torch.testing.assert_close(slow.filter(v), fast.filter(v))


def test_lattice_gradient_is_the_transposed_operator():
    torch.manual_seed(8)
    lat = PermutohedralLattice(torch.randn(1, 20, 3, dtype=torch.float64))
    v = torch.rand(1, 20, 1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lat.filter, (v, ))
    # the operator as a matrix is NOT symmetric: blur passes along different
    # directions do not commute on a partial lattice (the official extension
    # gives the same matrix; measured ||A - A^T|| / ||A|| = 0.10 on a 20 x 24
    # photo-like image). So autograd's A^T g differs from the A g that rloss's
    # hand-written gradient assumes.
    A = lat.filter(torch.eye(20, dtype=torch.float64).unsqueeze(0))[0]  # column j = A e_j
    assert (A - A.T).norm() / A.norm() > 0.05
    g = torch.rand(1, 20, 1, dtype=torch.float64)
    (lat.filter(v) * g).sum().backward()
    torch.testing.assert_close(v.grad[0], A.T @ g[0])


def test_lattice_against_dense_on_photo_like_images():
    """Measured over 5 synthetic 40 x 48 images at ToCo's sigmas (rgb 15, xy 50 px):
    the lattice sum is 0.52-0.55 x the exact sum (it drops the mass blurred onto
    lattice vertices no point touched), and after the best global scale the
    relative L2 error is 6-7 %."""
    for seed in range(3):
        img = _synthetic_image(40, 48, seed)
        f = _bilateral(img, 15., 50.)
        g = torch.Generator().manual_seed(100 + seed)
        v = torch.softmax(
            F.interpolate(
                torch.randn(1, 3, 5, 6, generator=g) * 3,
                size=(40, 48),
                mode='bilinear',
                align_corners=False), 1)
        v = v.flatten(2).transpose(1, 2)
        p, e = permutohedral_filter(f, v), gaussian_filter_dense(f, v)
        scale = (p * e).sum() / (p * p).sum()
        assert 0.45 < 1 / scale < 0.62
        assert ((scale * p - e).norm() / e.norm()) < 0.09
        assert ((p - e).norm() / e.norm()) > 0.3  # the raw lattice is NOT the exact sum


def test_dense_grid_2d_ratio():
    # a fine 2-D grid (spacing 0.1 std): the lattice's gain is 0.886 x the Gaussian
    # integral in the interior (0.921 in 1-D by the same reasoning as the by-hand tests)
    sp, n = 0.1, 60
    ys, xs = torch.meshgrid(torch.arange(n) * sp, torch.arange(n) * sp, indexing='ij')
    f = torch.stack([xs, ys], -1).view(1, -1, 2).float()
    ones = torch.ones(1, n * n, 1)
    c = n // 2 * n + n // 2
    ratio = permutohedral_filter(f, ones)[0, c] / gaussian_filter_dense(f, ones)[0, c]
    assert ratio.item() == pytest.approx(0.886, abs=0.01)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_cuda_matches_cpu():
    torch.manual_seed(9)
    f, v = torch.randn(2, 500, 5) * 2, torch.rand(2, 500, 4)
    cpu = permutohedral_filter(f, v)
    gpu = permutohedral_filter(f.cuda(), v.cuda())
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(
        gaussian_filter_dense(f.cuda(), v.cuda()).cpu(),
        gaussian_filter_dense(f, v),
        rtol=1e-4,
        atol=1e-4)
