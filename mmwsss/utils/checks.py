"""Value checks whose errors say what is wrong and where (image, checkpoint)."""
from typing import Optional

import torch
from torch import Tensor


class NonFiniteError(ValueError):
    """A tensor holds NaN or inf values (the message says which, and where)."""


def nonfinite_kind(x: Tensor) -> Optional[str]:
    """``'NaN'``, ``'inf'``, ``'NaN and inf'`` or None for a finite (or integer) tensor."""
    if not x.is_floating_point() and not x.is_complex():
        return None
    has_nan = bool(torch.isnan(x).any())
    has_inf = bool(torch.isinf(x).any())
    if has_nan and has_inf:
        return 'NaN and inf'
    return 'NaN' if has_nan else 'inf' if has_inf else None


def check_finite(x: Tensor, what: str, where: Optional[str] = None) -> None:
    """Raise :class:`NonFiniteError` if ``x`` has NaN / inf values.

    The message is ``'<where>: <what> contain <kind> values (<n> of <total>)'``;
    ``where`` names the image and, when known, the checkpoint, so that the user
    can tell a broken checkpoint from a broken image.
    """
    kind = nonfinite_kind(x)
    if kind is None:
        return
    n_bad = int((~torch.isfinite(x)).sum())
    prefix = f'{where}: ' if where else ''
    raise NonFiniteError(f'{prefix}{what} contain {kind} values ({n_bad} of {x.numel()}); '
                         'a NaN/inf usually comes from the checkpoint (diverged training, '
                         'NaN weights) or from a half-precision overflow')
