"""MoRe's class-token losses (attri, CLE, UNE), the uncertain-token search, GCR and the terms,
checked on numbers worked out by hand."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.heads import GCRHead
from mmwsss.models.heads.gcr_head import gated_knowledge_weights
from mmwsss.models.losses.class_token_contrast import (attri_loss, cle_loss, label_to_roi, lam_maps,
                                                       select_uncertain_tokens, une_loss)
from mmwsss.models.losses.terms import AttriTerm, CLETerm, UNETerm
from mmwsss.structures import BackboneOutput, BranchOutput, TrainContext


# ----------------------------------------------------------------------- attri
def test_attri_loss_by_hand():
    # t0 = (1, 0), t1 = (2, 2) (not normalised): cos = 1 / sqrt(2)
    tokens = torch.tensor([[[1.0, 0.0], [2.0, 2.0]]])
    c, T = 1 / math.sqrt(2), 0.07
    # each row: -log(e^{1/T} / (e^{1/T} + e^{c/T})) = log(1 + e^{(c - 1)/T})
    expected = math.log1p(math.exp((c - 1) / T))
    torch.testing.assert_close(attri_loss(tokens), torch.tensor(expected))
    # identical tokens: uniform rows, log C
    same = torch.ones(2, 3, 4)
    torch.testing.assert_close(attri_loss(same), torch.tensor(math.log(3)))
    # temperature is a parameter
    torch.testing.assert_close(
        attri_loss(tokens, temp=1.0), torch.tensor(math.log1p(math.exp(c - 1))))


# ------------------------------------------------------------------------- CLE
def _cle_loop(tokens, patch, label, labels, temp, eps=1e-4):
    """The official loop, written out: exp logits, per image and present class."""
    b = label.shape[0]
    t = F.normalize(tokens, p=2, dim=2, eps=1e-8)
    logits = torch.exp(t @ patch.detach().reshape(b, patch.shape[1], -1) / temp)
    total = 0
    for i in range(b):
        for k in torch.where(labels[i] == 1)[0].tolist():
            row = logits[i, k]
            nll = -torch.log(row / (row.sum() + eps))
            flag = (label[i] == k + 1).flatten().float()
            total = total + (flag * nll).sum() / (flag.sum() + eps)
    return total / b


def test_cle_loss_by_hand_on_a_1x3_grid():
    # class tokens (3, 4) -> (0.6, 0.8) and (0, 2) -> (0, 1); patches a=(1,0) b=(0,1) c=(1,1)
    tokens = torch.tensor([[[3.0, 4.0], [0.0, 2.0]]], requires_grad=True)
    patch = torch.tensor([[[[1.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]]], requires_grad=True)
    label = torch.tensor([[[1, 255, 2]]])  # a: class 0, b ignored, c: class 1
    labels = torch.tensor([[1.0, 0.0]])  # class 1 is NOT in the image: not counted
    z = [1.2, 1.6, 2.8]  # (0.6, 0.8, 1.4) / 0.5
    expected = (math.log(sum(math.exp(v) for v in z) + 1e-4) - z[0]) / (1 + 1e-4)
    loss = cle_loss(tokens, patch, label, labels, temp=0.5)
    torch.testing.assert_close(loss, torch.tensor(expected))
    loss.backward()
    assert patch.grad is None and tokens.grad[0, 0].abs().sum() > 0
    assert tokens.grad[0, 1].abs().sum() == 0  # absent class gets nothing
    # both classes present: the class-1 term adds log(sum exp z1 + eps) - z1[c]
    labels2 = torch.tensor([[1.0, 1.0]])
    z1 = [0.0, 2.0, 2.0]
    extra = (math.log(sum(math.exp(v) for v in z1) + 1e-4) - z1[2]) / (1 + 1e-4)
    torch.testing.assert_close(
        cle_loss(tokens, patch, label, labels2, temp=0.5), torch.tensor(expected + extra))


def test_cle_loss_matches_the_official_loop_and_survives_overflow():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, 4, 8, generator=g)
    patch = torch.randn(2, 8, 3, 5, generator=g)
    label = torch.randint(0, 5, (2, 3, 5), generator=g)
    label[0, 0] = 255
    labels = torch.tensor([[1.0, 0, 1, 1], [0, 1, 0, 1]])
    torch.testing.assert_close(
        cle_loss(tokens, patch, label, labels, 0.5), _cle_loop(tokens, patch, label, labels, 0.5))
    # unnormalised patch tokens of norm ~ 400: exp overflows in the official form
    big = patch * 100
    assert not torch.isfinite(_cle_loop(tokens, big, label, labels, 0.1))
    assert torch.isfinite(cle_loss(tokens, big, label, labels, 0.1))
    # all exp underflow: the official else-branch value log(1 + eps) per labelled patch
    tiny = torch.zeros(1, 1, 2)
    tiny[0, 0, 0] = 1.0
    p = torch.full((1, 2, 1, 2), 0.0)
    p[0, 0] = -1000.0
    lab = torch.tensor([[[1, 1]]])
    torch.testing.assert_close(
        cle_loss(tiny, p, lab, torch.ones(1, 1), 0.5),
        torch.tensor(2 * math.log1p(1e-4) / (2 + 1e-4)))


# -------------------------------------------------------------- token search
def test_label_to_roi():
    label = torch.tensor([[0, 255, 3], [1, 0, 255]])
    assert label_to_roi(label).tolist() == [[0, 1, 2], [2, 0, 1]]


def _window_case(num_fg: int) -> torch.Tensor:
    """9x9 roi: a 5x5 window of uncertain tokens around (4, 4) with ``num_fg`` fg tokens
    on its top row; zeros elsewhere. With kernel 5 (margin 2) only (4, 4) has its whole
    window inside; its mean is (25 + num_fg) / 25."""
    roi = torch.zeros(9, 9, dtype=torch.long)
    roi[2:7, 2:7] = 1
    roi[2, 2:2 + num_fg] = 2
    return roi


def test_window_rule_threshold_and_fg_padding():
    # 4 fg: mean 29/25 = 1.16 < 1.2: no uncertain token; pad (8 - 0) // 4 = 2 fg tokens
    pos = select_uncertain_tokens(_window_case(4), kernel_size=5)
    assert len(pos) == 2 and all(p[0] == 2 and 2 <= p[1] <= 5 for p in pos.tolist())
    assert len({tuple(p) for p in pos.tolist()}) == 2
    # 5 fg: mean 30/25 = 1.2: (4, 4) is picked; pad (8 - 1) // 4 = 1 fg token
    pos = select_uncertain_tokens(_window_case(5), kernel_size=5)
    assert pos.tolist()[0] == [4, 4] and len(pos) == 2
    assert pos[1, 0] == 2 and 2 <= pos[1, 1] <= 6
    # the official indexing quirk: the token at the window's top-left corner
    corner = select_uncertain_tokens(_window_case(5), kernel_size=5, token='corner')
    assert corner.tolist()[0] == [2, 2]
    # the official padding count is (crop_num - n) // 4, not crop_num - n
    assert len(select_uncertain_tokens(_window_case(5), kernel_size=5, pad_div=1)) == 8


def test_padding_falls_back_to_any_inner_token_and_caps_at_crop_num():
    # no uncertain, no fg: 2 random tokens of the inner 5x5 grid (margin 2 of 9x9)
    pos = select_uncertain_tokens(torch.zeros(9, 9, dtype=torch.long), kernel_size=5)
    assert len(pos) == 2 and bool(((pos >= 2) & (pos < 7)).all())
    # 10 isolated uncertain tokens in a fg sea: all pass the window rule; 8 of them are kept
    roi = torch.full((10, 12), 2, dtype=torch.long)  # inner grid rows 3..6, cols 3..8
    cells = [(3, 3), (3, 5), (3, 7), (4, 4), (4, 6), (4, 8), (5, 3), (5, 5), (5, 7), (4, 3)]
    for r, c in cells:
        roi[r, c] = 1
    pos = select_uncertain_tokens(roi, kernel_size=6)
    assert len(pos) == 8 and {tuple(p) for p in pos.tolist()} <= set(cells)
    assert len({tuple(p) for p in pos.tolist()}) == 8
    # 6 candidates: (8 - 6) // 4 = 0 padding, all 6 and in nonzero() order
    for r, c in cells[6:]:
        roi[r, c] = 2
    pos = select_uncertain_tokens(roi, kernel_size=6)
    assert pos.tolist() == sorted([list(c) for c in cells[:6]])
    # a grid too small for the margin gives no tokens
    assert len(select_uncertain_tokens(torch.ones(5, 5, dtype=torch.long), kernel_size=6)) == 0


def test_une_loss_by_hand():
    # 8x11 grid, kernel 6: two uncertain tokens in a fg sea, crop_num 2 -> both, no padding
    label = torch.full((1, 8, 11), 1, dtype=torch.long)
    label[0, 3, 4] = 255
    label[0, 4, 6] = 255
    patch = torch.zeros(1, 2, 8, 11)
    patch[0, :, 3, 4] = torch.tensor([3.0, 4.0])  # -> (0.6, 0.8)
    patch[0, :, 4, 6] = torch.tensor([-2.0, 0.0])  # -> (-1, 0)
    patch.requires_grad_(True)
    tokens = torch.tensor([[[5.0, 0.0], [0.0, 0.5]]], requires_grad=True)
    labels = torch.tensor([[1.0, 0.0]])
    # token 1: s = (0.6, 0.8): 0.5 (1 - 0.6 / 2) + 0.5 * 0.8 / 2 = 0.55
    # token 2: s = (1, 0):     0.5 (1 - 1 / 2) + 0 = 0.25
    loss = une_loss(tokens, patch, label, labels, crop_num=2, kernel_size=6)
    torch.testing.assert_close(loss, torch.tensor(0.4))
    loss.backward()
    assert tokens.grad is None and patch.grad[0, :, 3, 4].abs().sum() > 0
    # no token anywhere (grid smaller than the margins): 0, still differentiable
    small = une_loss(tokens, patch[..., :5, :5], label[..., :5, :5], labels, kernel_size=6)
    assert small.item() == 0 and small.requires_grad


# ------------------------------------------------------------------------- GCR
def test_gated_weights_dot_and_official_einsum():
    neigh = torch.tensor([1.0, 2.0]).view(1, 1, 1, 2)
    gate = torch.tensor([3.0, 4.0]).view(1, 1, 1, 2)
    assert gated_knowledge_weights(neigh, gate, 'dot').item() == 11.0
    # einsum('ijkl,ijkm->ijk'): (1 + 2) * (3 + 4)
    assert gated_knowledge_weights(neigh, gate, 'official_einsum').item() == 21.0
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    torch.testing.assert_close(
        gated_knowledge_weights(a, b, 'official_einsum'), torch.einsum('ijkl,ijkm->ijk', a, b))


def _gcr_loop(m: GCRHead, cls, feats):
    """GCR written per class token with explicit top-k lists."""
    out = []
    for i in range(cls.shape[0]):
        x = torch.cat([cls[i], feats[i]], 0)
        e_h, e_t = m.head_proj(cls[i]), m.tail_proj(x)
        rows = []
        k = int(m.tok_ratio * cls.shape[1])
        for c in range(cls.shape[1]):
            logit = e_t @ e_h[c] / math.sqrt(e_h.shape[-1])
            order = sorted(range(len(logit)), key=lambda j: -logit[j].item())[:k]
            nb = e_t[order]
            p = torch.softmax(logit[order], 0)[:, None]
            gate = torch.tanh(e_h[c] + p * nb + (1 - p) * e_h[c])
            w = (nb * gate).sum(-1) if m.attention == 'dot' else nb.sum(-1) * gate.sum(-1)
            e_n = (torch.softmax(w, 0)[:, None] * nb).sum(0)
            rows.append(
                m.act(m.linear1((e_h[c] + e_n) * 0.1 + cls[i, c])) +
                m.act(m.linear2(e_h[c] * e_n * 0.1 + cls[i, c])))
        out.append(m.norm(torch.stack(rows)))
    return torch.stack(out)


@pytest.mark.parametrize('attention', ['dot', 'official_einsum'])
def test_gcr_matches_per_token_loop(attention):
    torch.manual_seed(0)
    m = GCRHead(in_dim=8, attention=attention).eval()
    cls, feats = torch.randn(2, 6, 8), torch.randn(2, 2, 3, 8)
    out = m(cls, feats.flatten(1, 2))
    torch.testing.assert_close(out, _gcr_loop(m, cls, feats.flatten(1, 2)), atol=1e-5, rtol=0)
    # a (B, D, h, w) map gives the same as the (B, N, D) tokens
    torch.testing.assert_close(m(cls, feats.flatten(1, 2).transpose(1, 2).reshape(2, 8, 2, 3)), out)


def test_gcr_topk_only_reads_its_k_neighbours_and_detaches_patches():
    torch.manual_seed(1)
    m = GCRHead(in_dim=4, tok_ratio=0.5)  # 4 class tokens -> k = 2
    cls = torch.randn(1, 4, 4)
    feats = torch.randn(1, 5, 4, requires_grad=True)
    with torch.no_grad():
        e_h = m.head_proj(cls)
        e_t = m.tail_proj(torch.cat([cls, feats], 1))
        top = ((e_h @ e_t.transpose(1, 2)) / 2).topk(2, -1).indices  # scale 4 ** -0.5
    used = set(top.flatten().tolist())
    unused = [j for j in range(4, 9) if j not in used]
    assert unused, 'the seed must leave a patch token outside every top-2'
    out = m(cls, feats)
    bumped = feats.detach().clone()
    bumped[0, unused[0] - 4] += 0.01  # a small change keeps it out of the top-k
    torch.testing.assert_close(m(cls, bumped), out)
    out.sum().backward()
    assert feats.grad is None  # patch tokens enter detached
    with pytest.raises(ValueError, match='0 neighbours'):
        GCRHead(in_dim=4, tok_ratio=0.1)(torch.randn(1, 4, 4), torch.randn(1, 3, 4))


def test_lam_maps():
    patch = torch.arange(12.0).view(1, 2, 2, 3)
    tokens = torch.tensor([[[1.0, 0.0], [1.0, -1.0]]])
    lam = lam_maps(patch, tokens)
    torch.testing.assert_close(lam[0, 0], patch[0, 0])
    torch.testing.assert_close(lam[0, 1], patch[0, 0] - patch[0, 1])


# ----------------------------------------------------------------------- terms
def _ctx(cls_tokens, patch, labels, pseudo):
    feats = BackboneOutput([patch], cls_tokens=cls_tokens)
    ctx = TrainContext(inputs=torch.zeros(1, 3, 2, 2), img=None, img_labels=labels, data_samples=[])
    ctx.branches['net'] = BranchOutput(feats=feats)
    ctx.pseudo.update(pseudo)
    return ctx


def test_terms_share_the_gcr_tokens_and_check_grids():
    torch.manual_seed(0)
    cls = torch.randn(1, 4, 8)
    patch = torch.randn(1, 8, 8, 9)
    label = torch.randint(0, 5, (1, 8, 9))
    label[0, 3:5, 3:6] = 255
    labels = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    ctx = _ctx(cls, patch, labels, dict(cle=label, une=label, bad=label[:, :4]))
    attri = AttriTerm(in_dim=8, weight=1.0)
    out = attri(ctx)
    tokens = ctx.extras['class_tokens']['gcr']
    torch.testing.assert_close(tokens, attri.gcr(cls, patch))
    torch.testing.assert_close(out['loss_attri'], attri_loss(tokens))
    cle = CLETerm(label='cle', weight=0.2)(ctx)
    torch.testing.assert_close(cle['loss_cle'], 0.2 * cle_loss(tokens, patch, label, labels))
    torch.manual_seed(3)
    une = UNETerm(label='une', kernel_size=3, weight=0.1)(ctx)
    torch.manual_seed(3)
    torch.testing.assert_close(une['loss_une'],
                               0.1 * une_loss(tokens, patch, label, labels, kernel_size=3))
    with pytest.raises(ValueError, match="use CAMLabelSource\\(size='cam'\\)"):
        CLETerm(label='bad')(ctx)
    with pytest.raises(KeyError, match='put the AttriTerm'):
        CLETerm(label='cle', tokens='other')(ctx)
    # without GCR the raw class tokens are used
    ctx2 = _ctx(cls, patch, labels, {})
    AttriTerm(in_dim=8, with_gcr=False)(ctx2)
    assert ctx2.extras['class_tokens']['gcr'] is cls
