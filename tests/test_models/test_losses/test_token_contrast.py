"""ToCo's PTC / CTC losses: hand-computed cases and a literal per-image CTC reference."""
import math

import pytest
import torch

from mmwsss.models.losses.token_contrast import ctc_loss_neg, label_to_aff_mask, masked_ptc_loss

# ---------------------------------------------------------------------------------- PTC


def _tokens_2x2():
    """Four 2-d tokens on a 2x2 grid (row-major t0 t1 / t2 t3), as (1, 2, 2, 2).

    t0 = (1, 0), t1 = (2, 0), t2 = (0, 1), t3 = (-0.6, 0.8)   (|t3| = 1)
    cos: t0.t1 = 1, t0.t2 = 0, t1.t2 = 0, t0.t3 = t1.t3 = -0.6, t2.t3 = 0.8
    """
    t = torch.tensor([[1., 0.], [2., 0.], [0., 1.], [-0.6, 0.8]])  # (N, D)
    return t.t().reshape(1, 2, 2, 2)


def test_aff_mask_by_hand():
    label = torch.tensor([[[1, 1], [0, 255]]])
    m = label_to_aff_mask(label)
    # tokens 0, 1 share label 1; token 2 differs; token 3 is ignored; the diagonal is 255
    expected = torch.tensor([[255, 1, 0, 255], [1, 255, 0, 255], [0, 0, 255, 255],
                             [255, 255, 255, 255]])
    assert m.shape == (1, 4, 4) and m.dtype == torch.long
    assert torch.equal(m[0], expected)
    assert label_to_aff_mask(label, dtype=torch.float32).dtype == torch.float32


def test_aff_mask_custom_ignore_and_batch():
    label = torch.tensor([[[2, 7]], [[7, 7]]])  # (2, 1, 2), ignore = 7
    m = label_to_aff_mask(label, ignore_index=7)
    assert torch.equal(m[0], torch.tensor([[7, 7], [7, 7]]))
    assert torch.equal(m[1], torch.tensor([[7, 7], [7, 7]]))
    m = label_to_aff_mask(torch.tensor([[[3, 3]]]), ignore_index=7)
    assert torch.equal(m[0], torch.tensor([[7, 1], [1, 7]]))


def test_ptc_by_hand_uses_abs_cosine():
    tokens = _tokens_2x2()
    mask = label_to_aff_mask(torch.tensor([[[1, 1], [0, 0]]]))
    # M == 1: (0,1),(1,0),(2,3),(3,2): N1 = 4, sum |cos| = 1 + 1 + .8 + .8 = 3.6
    # M == 0: (0,2),(2,0),(1,2),(2,1) -> 0 each; (0,3),(3,0),(1,3),(3,1) -> |-.6| each
    #         N0 = 8, sum = 4 * .6 = 2.4
    # L = .5 * (1 - 3.6 / 5) + .5 * 2.4 / 9 = .14 + .133333 = .273333
    expected = 0.5 * (1 - 3.6 / 5) + 0.5 * 2.4 / 9
    assert expected == pytest.approx(0.273333, abs=1e-6)
    assert masked_ptc_loss(tokens, mask).item() == pytest.approx(expected, abs=1e-6)
    # without abs the negative sum would be -2.4 and L = .14 - .133333 = .006667
    assert masked_ptc_loss(tokens, mask).item() > 0.2


def test_ptc_sums_over_the_whole_batch():
    tokens = _tokens_2x2().repeat(2, 1, 1, 1)
    mask = label_to_aff_mask(torch.tensor([[[1, 1], [0, 0]], [[1, 1], [0, 255]]]))
    # image 0: N1 = 4, S1 = 3.6, N0 = 8, S0 = 2.4 (test above)
    # image 1: token 3 ignored: N1 = 2 (0,1),(1,0), S1 = 2; N0 = 4, S0 = 0
    # pooled: N1 = 6, S1 = 5.6, N0 = 12, S0 = 2.4
    # L = .5 * (1 - 5.6 / 7) + .5 * 2.4 / 13 = .1 + .0923077 = .1923077
    # (the mean of the per-image losses would be (.273333 + .166667) / 2 = .22)
    expected = 0.5 * (1 - 5.6 / 7) + 0.5 * 2.4 / 13
    assert masked_ptc_loss(tokens, mask).item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx(0.1923077, abs=1e-6)


def test_ptc_all_ignored_is_half():
    # no pair counts: .5 * (1 - 0 / 1) + .5 * 0 / 1 = .5, finite thanks to the + 1
    tokens = torch.randn(1, 3, 2, 2, requires_grad=True)
    mask = label_to_aff_mask(torch.full((1, 2, 2), 255))
    loss = masked_ptc_loss(tokens, mask)
    assert loss.item() == pytest.approx(0.5)
    loss.backward()
    assert torch.all(tokens.grad == 0)


def test_ptc_shape_check():
    with pytest.raises(ValueError):
        masked_ptc_loss(torch.randn(1, 3, 2, 2), torch.zeros(1, 3, 3))


# ---------------------------------------------------------------------------------- CTC


def ctc_loss_neg_loop(student, teacher, flags, temp=0.5):
    """Literal reference: one image, one teacher view, one crop at a time, ToCo's formula."""
    b, n_crops = flags.shape
    total = 0.
    for i in range(b):
        s = [student[k * b + i] for k in range(n_crops)]  # crop-major rows
        t = [teacher[g * b + i] for g in range(2)]
        pos_idx = [k for k in range(n_crops) if flags[i, k] != 0]
        neg_idx = [k for k in range(n_crops) if flags[i, k] == 0]
        img_loss = 0.
        for g in range(2):
            logit = [torch.exp(torch.dot(t[g], s[k]) / temp) for k in range(n_crops)]
            neg = sum((logit[k] for k in neg_idx), torch.zeros((), dtype=student.dtype))
            for k in pos_idx:
                img_loss = img_loss - torch.log(logit[k] / (logit[k] + neg + 1e-4))
            img_loss = img_loss - torch.log(1 / (1 + neg + 1e-4))  # the for-else term
        total = total + img_loss / 2 / (len(pos_idx) + 1e-4)
    return total / b


C2 = math.log(2) / 2  # exp(C2 / .5) = 2
C3 = math.log(3) / 2  # exp(C3 / .5) = 3


def _hand_case():
    """B = 1, 4 crops (2 global + 2 local), E = 2, temp = .5.

    teacher t0 = (1, 0), t1 = (0, 1): logits l = exp(2 * s_x) for t0 and exp(2 * s_y) for t1
    s0 = (C2, 0): l = 2 | 1     s1 = (0, C2): l = 1 | 2
    s2 = (0, 0):  l = 1 | 1     (local, negative)
    s3 = (C3, C3): l = 3 | 3    (local, positive)
    """
    student = torch.tensor([[C2, 0.], [0., C2], [0., 0.], [C3, C3]])
    teacher = torch.tensor([[1., 0.], [0., 1.]])
    return student, teacher


def test_ctc_by_hand_with_a_negative_crop():
    student, teacher = _hand_case()
    flags = torch.tensor([[1, 1, 0, 1]])
    # neg = 1 for both teachers, n_pos = 3
    # t0: log(3.0001 / 2) + log(2.0001 / 1) + log(4.0001 / 3) + for-else log(2.0001)
    # t1: log(2.0001 / 1) + log(3.0001 / 2) + log(4.0001 / 3) + log(2.0001)   (same terms)
    # without the 1e-4: 2 * log(1.5 * 2 * 4/3 * 2) / (2 * 3) = 2 * log 8 / 6 = log 2
    per_teacher = (
        math.log(3.0001 / 2) + math.log(2.0001) + math.log(4.0001 / 3) + math.log(2.0001))
    expected = 2 * per_teacher / (2 * (3 + 1e-4))
    assert expected == pytest.approx(math.log(2), abs=1e-4)
    assert ctc_loss_neg(student, teacher, flags).item() == pytest.approx(expected, abs=1e-6)
    assert ctc_loss_neg_loop(student, teacher, flags).item() == pytest.approx(expected, abs=1e-6)
    # without the for-else: 2 * log(1.5 * 2 * 4/3) / 6 = log 4 / 3 (+ the 1e-4's)
    no_else = 2 * (per_teacher - math.log(2.0001)) / (2 * (3 + 1e-4))
    assert no_else == pytest.approx(math.log(4) / 3, abs=1e-4)
    out = ctc_loss_neg(student, teacher, flags, for_else_term=False)
    assert out.item() == pytest.approx(no_else, abs=1e-6)


def test_ctc_all_positive_only_eps_terms_remain():
    # float64: in float32 log(l + 1e-4) - log(l) keeps only ~3 digits of these ~1e-4 terms
    student, teacher = (x.double() for x in _hand_case())
    flags = torch.ones(1, 4, dtype=torch.long)
    # neg = 0: each positive gives log(1 + 1e-4 / l), the for-else gives log(1 + 1e-4)
    # t0: l = 2, 1, 1, 3   t1: l = 1, 2, 1, 3  -> same multiset
    pos = sum(math.log(1 + 1e-4 / lv) for lv in (2, 1, 1, 3))  # ~ 2.8333e-4
    fe = math.log(1 + 1e-4)  # ~ 1e-4
    expected = 2 * (pos + fe) / (2 * (4 + 1e-4))  # ~ 9.583e-5
    assert expected == pytest.approx(9.583e-5, rel=1e-3)
    out = ctc_loss_neg(student, teacher, flags)
    assert out.item() == pytest.approx(expected, rel=1e-6)
    assert ctc_loss_neg_loop(student, teacher, flags).item() == pytest.approx(expected, rel=1e-6)
    # float32: off by ~1e-8 absolute, far inside the 1e-4 equivalence tolerance
    assert ctc_loss_neg(student.float(), teacher.float(), flags).item() == pytest.approx(
        expected, abs=1e-7)
    # dropping the for-else: 2 * 2.8333e-4 / 8.0002 ~ 7.083e-5
    out = ctc_loss_neg(student, teacher, flags, for_else_term=False)
    assert out.item() == pytest.approx(2 * pos / (2 * (4 + 1e-4)), rel=1e-6)


def test_ctc_teacher_view_is_not_skipped():
    # one image, only the two global views: teacher g sees both student views as positives,
    # including its own. All dot products 0 -> l = 1, neg = 0:
    # per teacher 2 * log(1 + 1e-4) + log(1 + 1e-4); loss = 2 * 3 * log(1.0001) / (2 * 2.0001)
    student = torch.zeros(2, 3)
    teacher = torch.zeros(2, 3)
    flags = torch.ones(1, 2)
    expected = 2 * 3 * math.log(1.0001) / (2 * 2.0001)
    assert ctc_loss_neg(student, teacher, flags).item() == pytest.approx(expected, rel=1e-4)


def test_ctc_crop_major_layout():
    # two images; image 1's crops are all orthogonal to its teacher, image 0's are not.
    # rows of a crop-major student: [crop0 img0, crop0 img1, crop1 img0, crop1 img1, ...]
    g = torch.Generator().manual_seed(0)
    student = torch.randn(10 * 2, 8, generator=g)
    teacher = torch.randn(2 * 2, 8, generator=g)
    flags = torch.ones(2, 10, dtype=torch.long)
    flags[0, 5:] = 0
    flags[1, 2:4] = 0
    ref = ctc_loss_neg_loop(student, teacher, flags)
    assert ctc_loss_neg(student, teacher, flags).item() == pytest.approx(ref.item(), abs=1e-5)
    # an image-major reading of the same rows would be a different number
    swapped = student.reshape(10, 2, 8).transpose(0, 1).reshape(20, 8)
    assert abs(ctc_loss_neg(swapped, teacher, flags).item() - ref.item()) > 1e-3


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_ctc_batched_matches_loop_on_random_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    b = 3
    # unit-norm rows as from CTCHead (cosines of weight-normed rows): moderate logits
    student = torch.nn.functional.normalize(torch.randn(10 * b, 16, generator=g), dim=1)
    teacher = torch.nn.functional.normalize(torch.randn(2 * b, 16, generator=g), dim=1)
    flags = (torch.rand(b, 10, generator=g) > 0.5).long()
    flags[:, :2] = 1
    flags[1, 2:] = 1  # an image without negatives
    flags[2, 2:] = 0  # an image with only negative local crops
    s1 = student.clone().requires_grad_(True)
    s2 = student.clone().requires_grad_(True)
    out = ctc_loss_neg(s1, teacher, flags)
    ref = ctc_loss_neg_loop(s2, teacher, flags)
    assert out.item() == pytest.approx(ref.item(), abs=1e-5)
    out.backward()
    ref.backward()
    assert torch.allclose(s1.grad, s2.grad, atol=1e-5)


def test_ctc_large_logits_stay_finite():
    # t . s / temp = 100 / .5 = 200: exp overflows float32, the log-space form does not
    student = torch.tensor([[10., 0.], [10., 0.], [10., 0.]])  # 3 crops, B = 1
    teacher = torch.tensor([[10., 0.], [10., 0.]])
    flags = torch.tensor([[1, 1, 0]])
    out = ctc_loss_neg(student, teacher, flags)
    # l = e^200 for all: per positive log(2), for-else log(1 + e^200) = 200 (to float precision)
    # per teacher 2 log 2 + 200; loss = 2 * (2 log 2 + 200) / (2 * 2.0001)
    expected = 2 * (2 * math.log(2) + 200) / (2 * 2.0001)
    assert math.isfinite(out.item())
    assert out.item() == pytest.approx(expected, rel=1e-5)


def test_ctc_checks():
    with pytest.raises(ValueError):
        ctc_loss_neg(torch.zeros(9, 2), torch.zeros(2, 2), torch.ones(1, 10))
    with pytest.raises(ValueError):
        ctc_loss_neg(torch.zeros(10, 2), torch.zeros(2, 2), torch.ones(1, 10), eps=0.)
