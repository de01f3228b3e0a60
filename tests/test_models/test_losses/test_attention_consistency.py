"""ACR's attention consistency: the token-grid un-flip and the L1 terms, by hand."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.losses.attention_consistency import (attention_consistency_loss,
                                                        flip_token_index, head_mean_attention,
                                                        unflip_tokens)


def official_unflip(attn2: torch.Tensor, p: int):
    """train_acr.py's in-place loops (p tokens per row, p rows), transcribed for the test."""
    cls2 = attn2[:, :, 0, 1:].unsqueeze(2).clone()
    aff2 = attn2[:, :, 1:, 1:].clone()
    for i in range(p):
        cls2[:, :, :, i * p:i * p + p] = cls2[:, :, :, i * p:i * p + p].flip(3)
    for i in range(p):
        aff2[:, :, i * p:i * p + p, :] = aff2[:, :, i * p:i * p + p, :].flip(2)
    for i in range(p):
        aff2[:, :, :, i * p:i * p + p] = aff2[:, :, :, i * p:i * p + p].flip(3)
    return cls2, aff2


def test_flip_index_3x3_by_hand():
    # 0 1 2 / 3 4 5 / 6 7 8 mirrored left-right: 2 1 0 / 5 4 3 / 8 7 6
    assert flip_token_index((3, 3)).tolist() == [2, 1, 0, 5, 4, 3, 8, 7, 6]


def test_flip_index_non_square_by_hand():
    # 2 rows of 3 tokens: 0 1 2 / 3 4 5 -> 2 1 0 / 5 4 3
    assert flip_token_index((2, 3)).tolist() == [2, 1, 0, 5, 4, 3]
    # 3 rows of 2 tokens: 0 1 / 2 3 / 4 5 -> 1 0 / 3 2 / 5 4
    assert flip_token_index((3, 2)).tolist() == [1, 0, 3, 2, 5, 4]
    # the official loop with p = rows for a 2 x 3 grid would reverse blocks of 2: wrong
    assert flip_token_index((2, 3)).tolist() != [1, 0, 3, 2, 5, 4]


def test_unflip_matches_a_flipped_image_non_square():
    # tokens = pixels of a 2 x 3 image: un-flipping the flipped image's tokens gives the image
    img = torch.tensor([[1., 2., 3.], [4., 5., 6.]])
    tokens_of_flip = img.flip(-1).reshape(-1)
    assert unflip_tokens(tokens_of_flip, (2, 3)).tolist() == [1, 2, 3, 4, 5, 6]


def test_unflip_affinity_both_axes_by_hand():
    # 1 x 2 grid: index [1, 0]; U2(M)[i, j] = M[idx[i], idx[j]]
    m = torch.tensor([[1., 2.], [3., 4.]])
    assert unflip_tokens(m, (1, 2), dims=(-2, -1)).tolist() == [[4., 3.], [2., 1.]]


def test_equals_official_loop_on_square_grid():
    torch.manual_seed(0)
    p = 3
    attn2 = torch.rand(2, 4, 1 + p * p, 1 + p * p)
    cls_ref, aff_ref = official_unflip(attn2, p)
    cls = unflip_tokens(attn2[:, :, 0, 1:], (p, p))
    aff = unflip_tokens(attn2[:, :, 1:, 1:], (p, p), dims=(-2, -1))
    assert torch.equal(cls, cls_ref[:, :, 0])
    assert torch.equal(aff, aff_ref)
    attn1 = torch.rand_like(attn2)
    lc, la = attention_consistency_loss(attn1, attn2, (p, p))
    ref_c = F.l1_loss(attn1[:, :, 0, 1:].unsqueeze(2), cls_ref)
    ref_a = F.l1_loss(attn1[:, :, 1:, 1:], aff_ref)
    assert torch.allclose(lc, ref_c, atol=1e-7) and torch.allclose(la, ref_a, atol=1e-7)


def test_l1_consistency_tiny_example_by_hand():
    # B = 1, L = 1, grid 1 x 2 (tokens: cls, p0, p1)
    a1 = torch.tensor([[[[0.2, 0.5, 0.3], [0.1, 0.6, 0.3], [0.0, 0.2, 0.8]]]])
    a2 = torch.tensor([[[[0.1, 0.4, 0.5], [0.3, 0.9, 0.1], [0.2, 0.3, 0.7]]]])
    lc, la = attention_consistency_loss(a1, a2, (1, 2))
    # U(a2 cls row) = [0.5, 0.4] vs [0.5, 0.3]: |0| + |0.1| -> mean 0.05
    assert lc.item() == pytest.approx(0.05, abs=1e-6)
    # U2(a2 aff) = [[0.7, 0.3], [0.1, 0.9]] vs [[0.6, 0.3], [0.2, 0.8]]: 0.1, 0, 0.1, 0.1
    assert la.item() == pytest.approx(0.075, abs=1e-6)


def test_flip_equivariant_attention_gives_zero_loss_only_when_unflipped():
    torch.manual_seed(0)
    h, w, d = 2, 3, 5
    # non-symmetric image features; attention from positions-free (flip-equivariant) tokens
    feats = torch.randn(h, w, d)

    def attention(f):
        tok = torch.cat([f.mean((0, 1))[None], f.reshape(h * w, d)], 0)
        return (tok @ tok.t()).softmax(-1)[None, None]

    a1, a2 = attention(feats), attention(feats.flip(1))
    lc, la = attention_consistency_loss(a1, a2, (h, w))
    assert lc.item() < 1e-7 and la.item() < 1e-7
    raw_c = F.l1_loss(a1[:, :, 0, 1:], a2[:, :, 0, 1:])
    assert raw_c.item() > 1e-3
    # a sample marked not flipped is compared as it is
    lc2, _ = attention_consistency_loss(a1, a2, (h, w), flipped=torch.tensor([False]))
    assert lc2.item() == pytest.approx(raw_c.item())


def test_head_mean_and_shape_checks():
    a = torch.arange(8.).view(1, 2, 2, 2)
    out = head_mean_attention([a, 2 * a])
    assert out.shape == (1, 2, 2, 2)
    assert out[0, 0].tolist() == [[2., 3.], [4., 5.]]
    with pytest.raises(ValueError, match='grid'):
        attention_consistency_loss(torch.rand(1, 1, 5, 5), torch.rand(1, 1, 5, 5), (2, 3))
