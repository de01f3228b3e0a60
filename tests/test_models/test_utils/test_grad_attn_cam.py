"""ACR's gradient-attention CAM (GETAM): hand-computed pieces and the real chain rule."""
import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.backbones import TokenViT
from mmwsss.models.heads import ClsTokenHead
from mmwsss.models.utils.grad_attn_cam import (affinity_refine, attention_grad_rows, getam,
                                               grad_attention_cams)

# B = 1, H = 2 heads, row 0 only, N = 3 tokens (cls, p0, p1), two blocks
G_A = torch.tensor([[[[0.5, -1.0, 2.0]], [[1.5, 3.0, -2.0]]]])
G_B = torch.tensor([[[[0.0, 1.0, 1.0]], [[-1.0, -1.0, 3.0]]]])
A_A = torch.tensor([[[[0.2, 0.5, 0.3]], [[0.1, 0.1, 0.8]]]])
A_B = torch.tensor([[[[0.5, 0.25, 0.25]], [[0.2, 0.2, 0.6]]]])


def test_attention_grad_rows_toy_by_hand():
    # y = sum(W * (A @ V)) -> dy/dA[i, j] = W[i] * V[j]
    v = torch.tensor([[[[1.0], [2.0]]]])
    wgt = torch.tensor([[[[3.0], [5.0]]]])
    assert attention_grad_rows(wgt, v, rows=None).tolist() == [[[[3., 6.], [5., 10.]]]]
    assert attention_grad_rows(wgt, v, rows=1).tolist() == [[[[3., 6.]]]]
    a = torch.rand(1, 1, 2, 2, requires_grad=True)
    (wgt * (a @ v)).sum().backward()
    assert torch.allclose(a.grad, attention_grad_rows(wgt, v, rows=None))


@pytest.mark.parametrize('func, expected', [
    ('grad', [2.0, 3.0]),
    ('grad_s', [2.5, 5.0]),
    ('cam_grad', [0.275, 1.325]),
    ('cam_grad_s', [0.2875, 2.35]),
])
def test_getam_by_hand(func, expected):
    # grad: block A mean_h clamp = [1, 1.5, 1], block B [0, 0.5, 2] -> sum [1, 2, 3], cols 1:
    out = getam([G_A, G_B], [A_A, A_B], func=func, num_prefix=1)
    assert out.shape == (1, 2)
    assert out[0].tolist() == pytest.approx(expected, abs=1e-6)


def test_getam_errors():
    with pytest.raises(ValueError, match='func'):
        getam([G_A], func='rollout')
    with pytest.raises(ValueError, match='attention'):
        getam([G_A], func='cam_grad')


def test_affinity_refine_by_hand():
    a1 = torch.tensor([[[[1., 0., 0.], [0., 0.6, 0.4], [0., 0.3, 0.7]]]])
    a2 = torch.tensor([[[[1., 0., 0.], [0., 1.0, 0.0], [0., 0.0, 1.0]]]])
    cam = torch.tensor([[2.0, 3.0]])
    # (sum_l A_l[1:, 1:]) @ cam = [[1.6, 0.4], [0.3, 1.7]] @ [2, 3] = [4.4, 5.7]
    assert affinity_refine(cam, [a1, a2])[0].tolist() == pytest.approx([4.4, 5.7])
    per_class = affinity_refine(torch.stack([cam, 2 * cam], 1), [a1, a2])
    assert torch.allclose(per_class[0], torch.tensor([[4.4, 5.7], [8.8, 11.4]]))


def _tiny_vit():
    torch.manual_seed(0)
    vit = TokenViT(
        vit=dict(type='timm', model_name='vit_tiny_patch16_224', depth=3, img_size=32),
        out_norm=False,
        extra_tokens={},
        attn_blocks=(0, 1, 2))
    return vit.eval()


def _reference(vit, fc, x, start, aff):
    """dy/dA read from the real (non-fused) attention tensors of timm's blocks."""
    blocks = vit.vit.blocks
    store, hooks = {}, []
    for i, b in enumerate(blocks):
        b.attn.fused_attn = False

        def hook(mod, inp, out, i=i):
            out.retain_grad()
            store[i] = out

        hooks.append(b.attn.attn_drop.register_forward_hook(hook))
    try:
        out = vit(x)
        y = fc(out.cls_tokens[:, 0])
        cams = []
        for c in range(y.shape[1]):
            for t in store.values():
                t.grad = None
            y[:, c].sum().backward(retain_graph=True)
            cam = getam([store[i].grad for i in range(start, len(blocks))], func='grad')
            if aff:
                cam = affinity_refine(cam, [store[i].detach() for i in range(len(blocks))])
            cams.append(cam)
    finally:
        for h in hooks:
            h.remove()
        for b in blocks:
            b.attn.fused_attn = True
    return torch.stack(cams, 1).reshape(x.shape[0], -1, *out.grid)


@pytest.mark.parametrize('aff', [False, True])
def test_grad_attention_cams_match_the_attention_tensor_gradient(aff):
    vit = _tiny_vit()
    fc = torch.nn.Linear(192, 4)
    x = torch.randn(2, 3, 32, 48)  # non-square: a 2 x 3 token grid
    cams = grad_attention_cams(
        vit, lambda o: fc(o.cls_tokens[:, 0]), x, start_layer=1, func='grad', aff=aff)
    ref = _reference(vit, fc, x, start=1, aff=aff)
    assert cams.shape == (2, 4, 2, 3)
    assert cams.abs().max() > 0
    assert torch.allclose(cams, ref, atol=1e-6 * float(ref.abs().max()) + 1e-9)
    # one class only: the others stay zero, the computed one is unchanged
    one = grad_attention_cams(
        vit, lambda o: fc(o.cls_tokens[:, 0]), x, start_layer=1, aff=aff, classes=[2])
    assert torch.equal(one[:, [0, 1, 3]], torch.zeros_like(one[:, [0, 1, 3]]))
    assert torch.allclose(one[:, 2], cams[:, 2])


def test_head_cam_fn_enables_grad_under_no_grad():
    init_default_scope('mmwsss')
    vit = _tiny_vit()
    head = ClsTokenHead(
        in_channels=192, num_classes=3, in_index=0, grad_cam=dict(start_layer=2, aff=False))

    class Branch:
        backbone = vit

    fn = head.cam_fn_for(Branch())
    x = torch.randn(1, 3, 32, 32)
    outside = fn(x)
    with torch.no_grad():
        inside = fn(x)
    assert inside.shape == (1, 3, 2, 2) and not inside.requires_grad
    assert torch.allclose(inside, outside)
    with pytest.raises(KeyError, match='attn_blocks'):
        vit.attn_blocks = [2]
        head_aff = ClsTokenHead(
            in_channels=192, num_classes=3, in_index=0, grad_cam=dict(start_layer=1))
        head_aff.cam_fn_for(Branch())(x)
