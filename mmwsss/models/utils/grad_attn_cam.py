"""Gradient-weighted attention CAMs ("GETAM"), ACR's localisation maps.

ACR (OpenNLPLab/ACR_WSSS ``DPT/ACR.py: getam`` + ``infer_cam.py``), per image and present
class c, backpropagates the class-token logit y_c and reads, in every block, the gradient
of y_c with respect to the (post-softmax) attention map A (B, heads, N, N):

    'grad'        cam_l = mean_h clamp(dy/dA, 0)                (the train_acr.sh setting)
    'cam_grad'    cam_l = mean_h clamp(dy/dA * A, 0)
    'grad_s'      cam_l = mean_h clamp(dy/dA, 0) ** 2
    'cam_grad_s'  cam_l = mean_h clamp(dy/dA * A, 0) * mean_h clamp(dy/dA, 0)

    cam = relu( sum_{l >= start_layer} cam_l [:, 0, K:] )       (class-token row, patches)
    aff=True:  cam <- (sum_{all l} mean_h A_l [:, K:, K:]) @ cam

All of these read row 0 only, so only row 0 of dy/dA is formed here.

The timm / mmpretrain ViTs use fused attention kernels that never materialise A, so dy/dA
is obtained by the chain rule instead of a tensor hook: the attention output of head h is
``O_h = A_h V_h``, hence ``dy/dA_h = (dy/dO_h) V_h^T``; dy/dO is the gradient at the input
of the block's output projection (``attn.proj``) and V comes from the qkv projection. This
is exact (the attention dropout is inactive in eval mode).
"""
import contextlib
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

GETAM_FUNCS = ('grad', 'cam_grad', 'grad_s', 'cam_grad_s')


def attention_grad_rows(grad_out: Tensor, v: Tensor, rows: Optional[int] = 1) -> Tensor:
    """dy/dA for O = A V, per head, for the first ``rows`` query rows.

    Args:
        grad_out: (B, H, N, d) gradient of y with respect to the attention output O.
        v: (B, H, N, d) values.
        rows: how many query rows to return (None: all N).
    Returns:
        (B, H, rows, N): ``grad_out[:, :, :rows] @ v^T``.
    """
    g = grad_out if rows is None else grad_out[:, :, :rows]
    return g @ v.transpose(-2, -1)


def getam(grads: Sequence[Tensor],
          attns: Optional[Sequence[Tensor]] = None,
          func: str = 'grad',
          num_prefix: int = 1) -> Tensor:
    """Combine per-block attention gradients into one class-token map (ACR ``getam``).

    Args:
        grads: per block (the blocks >= start_layer), (B, H, R, N) gradients of y_c with
            respect to the attention, R >= 1 query rows (row 0 = the class token).
        attns: per block, (B, H, R', N) attention maps with R' >= R (needed by
            'cam_grad' / 'cam_grad_s').
        func: one of :data:`GETAM_FUNCS`.
        num_prefix: K, prefix tokens dropped from the columns (ACR: 1; 2 for a
            distilled DeiT).
    Returns:
        (B, N - K): relu(sum over blocks of the per-block map, row 0, columns K:).
    """
    if func not in GETAM_FUNCS:
        raise ValueError(f'getam func must be one of {GETAM_FUNCS}, got {func!r}')
    if func.startswith('cam') and attns is None:
        raise ValueError(f"getam func '{func}' needs the attention maps")
    total = None
    for i, g in enumerate(grads):
        pos = g.clamp(min=0).mean(1)  # (B, R, N)
        if func.startswith('cam'):
            a = attns[i][:, :, :g.shape[2]]
            cam = (g * a).clamp(min=0).mean(1)
            cam = cam * pos if func == 'cam_grad_s' else cam
        else:
            cam = pos * pos if func == 'grad_s' else pos
        total = cam if total is None else total + cam
    if total is None:
        raise ValueError('getam needs at least one block (start_layer beyond the last block?)')
    return F.relu(total[:, 0, num_prefix:])


def affinity_refine(cam: Tensor, attns: Sequence[Tensor], num_prefix: int = 1) -> Tensor:
    """ACR's ``--aff``: cam (B, n) <- (sum_l mean_h A_l[:, K:, K:]) @ cam.

    Args:
        cam: (B, n) or (B, C, n) patch maps, n = N - K.
        attns: per block (all blocks), (B, H, N, N) attention maps.
    Returns:
        same shape as ``cam``.
    """
    k = num_prefix
    aff = sum(a.mean(1)[:, k:, k:] for a in attns)  # (B, n, n)
    if cam.dim() == 2:
        return (aff @ cam.unsqueeze(-1)).squeeze(-1)
    return (aff @ cam.transpose(1, 2)).transpose(1, 2)


@contextlib.contextmanager
def _attention_taps(backbone: nn.Module,
                    blocks: Sequence[int]) -> Iterator[Tuple[Dict[int, Tensor], Dict[int, Tensor]]]:
    """Record, for the given blocks of a TokenViT, the attention-output projection input
    (B, N, C) and the qkv projection output during one forward."""
    adapter = backbone._adapter
    all_blocks = adapter.blocks(backbone.vit)
    proj_in: Dict[int, Tensor] = {}
    qkv_out: Dict[int, Tensor] = {}
    handles = []

    def pre_hook(idx: int) -> Callable:

        def hook(module, args):
            proj_in[idx] = args[0]

        return hook

    def post_hook(idx: int) -> Callable:

        def hook(module, args, output):
            qkv_out[idx] = output

        return hook

    try:
        for i in blocks:
            block = all_blocks[i]
            proj = getattr(block.attn, 'proj', None)
            if not isinstance(proj, nn.Linear):
                raise TypeError('grad-attention CAMs need an attention with an `attn.proj` '
                                f'nn.Linear (timm / mmpretrain ViTs); block {i} has '
                                f'{type(block.attn).__name__}')
            norm = getattr(block.attn, 'norm', None)
            if norm is not None and not isinstance(norm, nn.Identity):
                raise TypeError('grad-attention CAMs: timm attention with scale_norm (a norm '
                                'between A @ V and proj) is not supported')
            handles.append(proj.register_forward_pre_hook(pre_hook(i)))
            handles.append(adapter.qkv_module(block).register_forward_hook(post_hook(i)))
        yield proj_in, qkv_out
    finally:
        for h in handles:
            h.remove()


def grad_attention_cams(backbone: nn.Module,
                        logits_fn: Callable[[object], Tensor],
                        inputs: Tensor,
                        start_layer: int = 10,
                        func: str = 'grad',
                        aff: bool = True,
                        classes: Optional[Sequence[int]] = None) -> Tensor:
    """ACR's gradient-attention CAMs of a :class:`TokenViT` on the patch grid.

    Grad is enabled locally (mmseg predicts under ``no_grad``). Every sample of the batch
    is independent (a ViT has no batch statistics), so one backward of ``y_c.sum()`` gives
    each sample's own gradients, as ACR's one-image-at-a-time loop does.

    Args:
        backbone: a TokenViT whose ``attn_blocks`` cover every block needed (all blocks
            with ``aff``; the blocks >= start_layer with 'cam_*' funcs).
        logits_fn: ``BackboneOutput -> (B, C)`` class logits (ACR: the class-token head).
        inputs: (B, 3, H, W) normalised images.
        start_layer: first block summed (``infer_cam.py --start_layer``; train_acr.sh 10).
        func: see :data:`GETAM_FUNCS` (train_acr.sh: 'grad').
        aff: multiply by the summed head-mean patch affinity of all blocks.
        classes: class indices to compute (None: all); the others stay 0.
    Returns:
        (B, C, h, w) non-negative maps on the token grid (not normalised).
    """
    depth = backbone.num_blocks
    start = start_layer % depth if start_layer < 0 else start_layer
    blocks = list(range(start, depth))
    if not blocks:
        raise ValueError(f'start_layer {start_layer} leaves no block of {depth}')
    k = backbone.num_prefix_tokens
    adapter = backbone._adapter
    all_blocks = adapter.blocks(backbone.vit)
    with torch.enable_grad():
        x = inputs.detach().requires_grad_(True)
        with _attention_taps(backbone, blocks) as (proj_in, qkv_out):
            out = backbone(x)
        logits = logits_fn(out)
        B, C = logits.shape
        h, w = out.grid
        need = set(range(depth)) if aff else set()
        if func.startswith('cam'):
            need |= set(blocks)
        missing = sorted(need - set(out.attns))
        if missing:
            raise KeyError(f'grad-attention CAMs need the attention of blocks {missing}: add '
                           'them to the backbone attn_blocks')
        values: List[Tensor] = []
        for i in blocks:
            qkv = adapter.qkv(all_blocks[i], qkv_out[i])
            heads, _ = adapter.heads_and_scale(all_blocks[i])
            n, c3 = qkv.shape[1], qkv.shape[2]
            values.append(qkv.reshape(B, n, 3, heads, c3 // (3 * heads))[:, :, 2].transpose(1, 2))
        taps = [proj_in[i] for i in blocks]
        cams = logits.new_zeros(B, C, h * w)
        for c in (range(C) if classes is None else classes):
            grads = torch.autograd.grad(logits[:, c].sum(), taps, retain_graph=True)
            rows = []
            for g, v in zip(grads, values):
                heads, d = v.shape[1], v.shape[-1]
                g = g.reshape(B, g.shape[1], heads, d).transpose(1, 2)  # (B, H, N, d)
                rows.append(attention_grad_rows(g, v.detach(), rows=1))
            attn_rows = [out.attns[i][:, :, :1].detach() for i in blocks] \
                if func.startswith('cam') else None
            cams[:, c] = getam(rows, attn_rows, func, num_prefix=k).detach()
        if aff:
            cams = affinity_refine(cams, [out.attns[i].detach() for i in range(depth)], k)
    return cams.reshape(B, C, h, w).detach()
