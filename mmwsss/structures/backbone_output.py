"""What a token backbone (a ViT) returns: feature maps plus the tokens WSSS methods need.

mmseg decode heads, necks and segmentors treat a backbone's output as a sequence of
feature maps (``inputs[self.in_index]``, ``len(inputs)``, ``for x in inputs``). Token-based
WSSS methods additionally need the class token(s), patch tokens of other blocks and
attention maps. :class:`BackboneOutput` is a ``tuple`` of the feature maps, so every mmseg
component keeps working unchanged, with those extras as attributes.
"""
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from torch import Tensor


class BackboneOutput(tuple):
    """A tuple of feature maps (B, C_i, H_i, W_i) with token extras as attributes.

    Args:
        feats: the feature maps, in the order decode heads index them.
        cls_tokens: (B, K, D) prefix tokens (K = 1 class token for a plain ViT; class +
            register tokens otherwise), or None.
        tokens: named patch-token maps ``{name: (B, D, h, w)}`` (e.g. ToCo's pre-norm
            ``'aux'`` tokens of block -3).
        attns: attention maps ``{block_index: (B, heads, N, N)}`` with N = K + h*w (the
            prefix tokens come first), keyed by the non-negative block index.
        grid: the patch grid (h, w).

    Only integer indexing keeps the attributes' meaning; slicing or ``+`` give plain
    tuples (tuple semantics), use :meth:`replace` to derive a new output instead.
    Pickling and ``copy.deepcopy`` keep the attributes.
    """

    cls_tokens: Optional[Tensor]
    tokens: Dict[str, Tensor]
    attns: Dict[int, Tensor]
    grid: Optional[Tuple[int, int]]

    def __new__(cls,
                feats: Sequence[Tensor],
                cls_tokens: Optional[Tensor] = None,
                tokens: Optional[Mapping[str, Tensor]] = None,
                attns: Optional[Mapping[int, Tensor]] = None,
                grid: Optional[Sequence[int]] = None) -> 'BackboneOutput':
        if isinstance(feats, Tensor):
            # a bare tensor would silently become a tuple of its batch rows
            raise TypeError('BackboneOutput: feats must be a sequence of tensors, got a '
                            f'single Tensor of shape {tuple(feats.shape)}; wrap it in a list')
        feats = tuple(feats)
        for i, f in enumerate(feats):
            if not isinstance(f, Tensor):
                raise TypeError(f'BackboneOutput: feats[{i}] must be a Tensor, got '
                                f'{type(f).__name__}')
        self = super().__new__(cls, feats)
        if cls_tokens is not None:
            _check_tensor(cls_tokens, 3, 'cls_tokens', '(B, K, D)')
        tokens = dict(tokens or {})
        for name, t in tokens.items():
            if not isinstance(name, str):
                raise TypeError(f'BackboneOutput: tokens keys must be str, got {name!r}')
            _check_tensor(t, 4, f"tokens['{name}']", '(B, D, h, w)')
        attns = dict(attns or {})
        for idx, a in attns.items():
            if not isinstance(idx, int) or idx < 0:
                raise TypeError('BackboneOutput: attns keys must be non-negative block '
                                f'indices, got {idx!r}')
            _check_tensor(a, 4, f'attns[{idx}]', '(B, heads, N, N)')
            if a.shape[-1] != a.shape[-2]:
                raise ValueError(f'BackboneOutput: attns[{idx}] must be square in its '
                                 f'last two dims, got {tuple(a.shape)}')
        if grid is not None:
            grid = tuple(int(g) for g in grid)
            if len(grid) != 2:
                raise ValueError(f'BackboneOutput: grid must be (h, w), got {grid}')
        self.cls_tokens = cls_tokens
        self.tokens = tokens
        self.attns = attns
        self.grid = grid
        return self

    def __getnewargs__(self) -> Tuple[Tuple[Tensor, ...]]:
        # pickle / deepcopy rebuild the tuple part from this, then restore __dict__
        return (tuple(self), )

    def replace(self, **changes: Any) -> 'BackboneOutput':
        """A copy with some fields replaced, e.g. ``out.replace(feats=neck(out))``."""
        fields = dict(
            feats=tuple(self),
            cls_tokens=self.cls_tokens,
            tokens=self.tokens,
            attns=self.attns,
            grid=self.grid)
        unknown = set(changes) - set(fields)
        if unknown:
            raise KeyError(f'BackboneOutput.replace: unknown fields {sorted(unknown)}; '
                           f'expected some of {sorted(fields)}')
        fields.update(changes)
        return BackboneOutput(**fields)

    def __repr__(self) -> str:
        feats = ', '.join(str(tuple(f.shape)) for f in self)
        cls = None if self.cls_tokens is None else tuple(self.cls_tokens.shape)
        tokens = {k: tuple(v.shape) for k, v in self.tokens.items()}
        attns = {k: tuple(v.shape) for k, v in self.attns.items()}
        return (f'BackboneOutput(feats=[{feats}], cls_tokens={cls}, tokens={tokens}, '
                f'attns={attns}, grid={self.grid})')


def _check_tensor(t: Any, ndim: int, name: str, layout: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f'BackboneOutput: {name} must be a Tensor {layout}, got '
                        f'{type(t).__name__}')
    if t.dim() != ndim:
        raise ValueError(f'BackboneOutput: {name} must be {layout}, got shape '
                         f'{tuple(t.shape)}')
