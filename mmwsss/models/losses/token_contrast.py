"""ToCo's token-contrast losses as plain tensor functions (ToCo, CVPR'23; reused by DuPL and MoRe).

* :func:`label_to_aff_mask` + :func:`masked_ptc_loss`: patch token contrast (PTC), ToCo
  ``utils/camutils.py: label_to_aff_mask`` and ``model/losses.py: get_masked_ptc_loss``.
* :func:`ctc_loss_neg`: class token contrast (CTC) between the EMA teacher's global views and the
  student's global + local views, ToCo ``model/losses.py: CTCLoss_neg``.

These are formulas only; scheduling, weights and the teacher EMA live elsewhere. Each function
takes exactly the tensors the official one does, so the two can be run on identical inputs.
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor


def label_to_aff_mask(label: Tensor,
                      ignore_index: int = 255,
                      dtype: torch.dtype = torch.long) -> Tensor:
    """Pairwise affinity targets from a token-level pseudo label.

    ``M[b, i, j]`` = 1 if tokens i and j have the same label, 0 if they differ, and
    ``ignore_index`` if either token is ``ignore_index`` or ``i == j`` (a token is never its own
    pair: its cosine is always 1 and would only dilute the positive mean).

    Args:
        label: (B, h, w) integer token labels (0 = bg, 1..C = fg, ``ignore_index`` = ignore).
        ignore_index: the ignore value, also written into the mask.
        dtype: output dtype. ToCo returns ``torch.long``; values are identical for any dtype
            that holds ``ignore_index``.

    Returns:
        (B, h*w, h*w) mask with values in {0, 1, ignore_index}.
    """
    b = label.shape[0]
    flat = label.reshape(b, -1)  # (B, N)
    n = flat.shape[1]
    aff = (flat[:, :, None] == flat[:, None, :]).to(dtype)  # (B, N, N)
    ign = flat == ignore_index  # (B, N)
    # an ignored token at either end makes the pair unknown
    aff = aff.masked_fill(ign[:, :, None] | ign[:, None, :], ignore_index)
    eye = torch.eye(n, dtype=torch.bool, device=label.device)
    return aff.masked_fill(eye, ignore_index)


def masked_ptc_loss(tokens: Tensor, aff_mask: Tensor, eps: float = 1e-8) -> Tensor:
    """Patch token contrast: pull same-label tokens together, push different-label ones apart.

        S = |cos(f_i, f_j)| over all token pairs of an image (f normalised along D)
        L = 0.5 * (1 - sum_{M == 1} S / (N1 + 1)) + 0.5 * sum_{M == 0} S / (N0 + 1)

    N1 / N0 count the M == 1 / M == 0 pairs, and both sums run over the WHOLE batch (one pooled
    mean, not a mean of per-image losses), as in ToCo. The official takes ``torch.abs`` of the
    cosine, so anti-parallel tokens count as similar: the loss only drives negative pairs to
    orthogonality, never to opposition. The ``+ 1`` keeps an empty group finite (its term is 0).

    Args:
        tokens: (B, D, h, w) final patch tokens.
        aff_mask: (B, N, N), N = h*w, from :func:`label_to_aff_mask`; other values are ignored.
        eps: ``F.normalize`` epsilon (ToCo: 1e-8).

    Returns:
        scalar loss.
    """
    b, d, h, w = tokens.shape
    if aff_mask.shape != (b, h * w, h * w):
        raise ValueError(f'masked_ptc_loss: aff_mask {tuple(aff_mask.shape)} does not match '
                         f'tokens {tuple(tokens.shape)} (expected {(b, h * w, h * w)})')
    f = F.normalize(tokens.reshape(b, d, h * w), p=2, dim=1, eps=eps)  # (B, D, N)
    sim = torch.matmul(f.transpose(1, 2), f).abs()  # (B, N, N)
    pos = (aff_mask == 1).to(sim.dtype)
    neg = (aff_mask == 0).to(sim.dtype)
    pos_term = 1 - (pos * sim).sum() / (pos.sum() + 1)
    neg_term = (neg * sim).sum() / (neg.sum() + 1)
    return 0.5 * pos_term + 0.5 * neg_term


def ctc_loss_neg(student: Tensor,
                 teacher: Tensor,
                 flags: Tensor,
                 temp: float = 0.5,
                 eps: float = 1e-4,
                 for_else_term: bool = True) -> Tensor:
    """ToCo's class-token contrast with negative local crops (``CTCLoss_neg``).

    Layout (as ToCo's ``network.forward_proj`` builds it, DINO-style, crop-major): the student
    rows are ``cat([view_0 (B), view_1 (B), crop_0 (B), ..., crop_{n-3} (B)])``, i.e. row
    ``k * B + i`` is crop k of image i; the teacher rows are ``cat([view_0 (B), view_1 (B)])``.
    ``flags[i, k]`` marks crop k of image i as positive (non-zero) or negative (0); ToCo's
    :func:`~mmwsss.models.utils.crop_from_roi_neg` sets the two global views to 1.

    For image i and teacher view g, with ``l_k = exp(t_g . s_k / temp)`` and
    ``neg = sum_{flags[i, k] == 0} l_k``:

        L_ig = sum_{k: flags[i, k] != 0} -log(l_k / (l_k + neg + eps))
             + -log(1 / (1 + neg + eps))                 # ToCo's for-else, see below
        L_i  = (L_i0 + L_i1) / (2 * (n_pos_i + eps))     # n_pos_i = number of positive crops
        L    = mean_i L_i

    Choices, all matching the official code:

    * The teacher's own view is NOT skipped (DINO's ``CTCLoss`` skips ``v == iq``; ToCo's
      ``CTCLoss_neg`` does not): the student's copy of global view g is a positive of teacher g.
    * The ``-log(1 / (1 + neg + eps))`` term sits in the ``else`` of a ``for`` loop without a
      ``break``, so it runs once per image and teacher, like a positive whose logit is exactly 1
      (``t . s = 0``). It adds ``log(1 + neg)``, a push on the negatives only, and it is counted
      in the sum while the divisor stays ``n_pos`` (not ``n_pos + 1``). I could not read the
      paper's equation, so the default keeps it; ``for_else_term=False`` drops it.
    * The same ``eps`` (ToCo: 1e-4, hard-coded twice) is used in the logs and in the divisor.
    * No ``temp`` on the teacher side, no centering, no softmax over the output dim: the
      "logits" are dot products of the raw head outputs.

    Computed in log space (``log(l + neg + eps) = logsumexp``), which is the same value as the
    official ``exp`` form up to rounding but cannot overflow when ``t . s / temp`` is large.

    Args:
        student: (n_crops * B, E) student head outputs, crop-major (see above).
        teacher: (2 * B, E) teacher head outputs of the two global views, view-major. Pass them
            without gradient (ToCo's teacher head is an EMA copy fed detached tokens).
        flags: (B, n_crops), non-zero = positive crop; n_crops = 10 in ToCo (2 global + 8 local).
        temp: temperature (ToCo's VOC/COCO scripts: 0.5).
        eps: ToCo's 1e-4; must be > 0 (it also keeps the log finite without negatives).
        for_else_term: keep ToCo's always-running ``-log(1 / (1 + neg + eps))`` term.

    Returns:
        scalar loss.
    """
    if eps <= 0:
        raise ValueError(f'ctc_loss_neg: eps must be > 0, got {eps}')
    b, n_crops = flags.shape
    if student.shape[0] != n_crops * b:
        raise ValueError(f'ctc_loss_neg: {student.shape[0]} student rows for {b} images x '
                         f'{n_crops} crops')
    if teacher.shape[0] % b != 0:
        raise ValueError(f'ctc_loss_neg: {teacher.shape[0]} teacher rows for {b} images')
    n_t = teacher.shape[0] // b  # 2 global views in ToCo
    # crop-major rows -> per image: (B, n_crops, E) and (B, n_t, E)
    s = student.reshape(n_crops, b, -1).transpose(0, 1)
    t = teacher.reshape(n_t, b, -1).transpose(0, 1)
    z = torch.matmul(t, s.transpose(1, 2)) / temp  # (B, n_t, n_crops) = log l
    pos = flags != 0  # (B, n_crops)
    neg = ~pos
    # log(neg + eps) = logsumexp over the negative crops' z plus log(eps)
    z_neg = z.masked_fill(~neg[:, None, :], float('-inf'))
    log_eps = z.new_full(z.shape[:2] + (1, ), math.log(eps))
    lse_neg = torch.logsumexp(torch.cat([z_neg, log_eps], dim=-1), dim=-1)  # (B, n_t)
    # -log(l / (l + neg + eps)) = log(l + neg + eps) - log l
    pos_terms = torch.logaddexp(z, lse_neg[..., None]) - z  # (B, n_t, n_crops)
    loss = (pos_terms * pos[:, None, :].to(z.dtype)).sum(dim=(1, 2))  # (B,)
    if for_else_term:
        # -log(1 / (1 + neg + eps)) = log(1 + exp(lse_neg)) = softplus(lse_neg)
        loss = loss + F.softplus(lse_neg).sum(dim=1)
    n_pos = pos.sum(dim=1).to(z.dtype)
    return (loss / n_t / (n_pos + eps)).mean()
