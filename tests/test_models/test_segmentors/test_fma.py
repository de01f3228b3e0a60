"""FMAPromptCAM on a random tiny CLIP: the differentiable Grad-CAM and both tasks."""
import pytest
import torch
from mmengine.structures import PixelData

pytest.importorskip('open_clip')

from mmwsss.models.foundation import TINY_CLIP_CFG  # noqa: E402
from mmwsss.models.segmentors.fma import differentiable_grad_cams  # noqa: E402
from mmwsss.registry import MODELS  # noqa: E402
from mmwsss.structures import WSSSDataSample  # noqa: E402
from mmwsss.utils import register_all_modules  # noqa: E402

register_all_modules(init_default_scope=False)
NAMES = ['cat', 'dog', 'car']
PRE = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305])


def build(task):
    torch.manual_seed(0)
    cls = task == 'cls'
    return MODELS.build(
        dict(
            type='FMAPromptCAM',
            clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG),
            class_names=NAMES,
            bg_class_names=['sky', 'road'] if cls else ['', ''],
            prompt=dict(
                template='{ctx} {name}.' if cls else '{name} {ctx}.',
                n_ctx=4,
                class_specific_ctx=not cls,
                ctx_std=0.015),
            cls_loss=dict(type='MultiLabelCLLoss') if cls else None,
            cam_loss=None if cls else dict(type='CAMIntensityLoss'),
            box_thr=0.4 if cls else 0.5,
            caa_at='score' if cls else 'cam',
            data_preprocessor=PRE))


def samples(h=48, w=80):
    out = []
    for lab in ([0, 2], [1]):
        s = WSSSDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w)))
        s.gt_img_label = torch.zeros(3)
        s.gt_img_label[lab] = 1
        seg = torch.zeros(1, h, w, dtype=torch.long)
        seg[0, 5:20, 10:40] = lab[0] + 1
        s.gt_sem_seg = PixelData(data=seg)
        out.append(s)
    return out


def test_batched_grad_cams_equal_per_positive_loop():
    model = build('seg')
    x = torch.randn(3, 3, 32, 48)
    labels = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 1]])
    res = model.prompt_forward(x, labels)
    cams = res['pos_cams'].flatten(1)
    assert cams.shape == (6, 6) and cams.requires_grad
    # naive: one autograd.grad per positive, as the official is_grads_batched grad
    text = model.prompt_learner.text_features()
    blocks = model.clip.clip.visual.transformer.resblocks
    with torch.no_grad():
        tok = model.clip.forward_tokens(x, num_blocks=len(blocks) - 1)['tokens']
    acts = blocks[-1].ln_1(tok).detach().requires_grad_(True)
    xl, _ = model.clip.block_forward(blocks[-1], tok, ln_1_out=acts)
    logits = model.clip.logit_scale * model.clip.pool_tokens(xl) @ text.t()
    keep = torch.ones_like(logits, dtype=torch.bool)
    keep[:, :3] = labels > 0
    probs = logits.masked_fill(~keep, float('-inf')).softmax(-1)
    naive = []
    for n, c in labels.nonzero().tolist():
        g = torch.autograd.grad(probs[n, c], acts, retain_graph=True)[0][n, 1:]
        naive.append((g.mean(0) * acts.detach()[n, 1:]).sum(-1))
    assert torch.allclose(cams, torch.stack(naive), atol=1e-6)
    # no ReLU in the loss path: negative values survive
    assert (cams < 0).any()


def test_grad_cam_has_gradient_path_to_prompts():
    model = build('seg')
    x = torch.randn(2, 3, 32, 48)
    res = model.prompt_forward(x, torch.tensor([[1, 0, 0], [0, 0, 1]]))
    cams = res['pos_cams']
    assert cams.grad_fn is not None  # create_graph=True
    grad = torch.autograd.grad(cams.sum(), model.prompt_learner.ctx)[0]
    assert grad.abs().sum() > 0
    # without create_graph the CAM is a constant w.r.t. the prompts
    res = model.prompt_forward(x, torch.tensor([[1, 0, 0], [0, 0, 1]]), create_graph=False)
    assert not res['pos_cams'].requires_grad


def test_toy_probs_grad_cam():
    """Hand-checkable: probs = softmax(acts summed over tokens) on 2 tokens + CLS."""
    acts = torch.tensor([[[9.0, 9.0], [1.0, 0.0], [0.0, 2.0]]], requires_grad=True)
    logits = acts.sum(1)  # (1, 2): [10, 11]
    probs = logits.softmax(-1)
    cams = differentiable_grad_cams(probs, acts, torch.tensor([[1, 0]]))
    p = torch.softmax(torch.tensor([10.0, 11.0]), 0)
    # dp0/dacts[t] = [p0(1-p0), -p0 p1] for every token; weights = that; cam_t = w . a_t
    w = torch.tensor([p[0] * (1 - p[0]), -p[0] * p[1]])
    assert torch.allclose(
        cams[0],
        torch.stack([w @ torch.tensor([1.0, 0.0]), w @ torch.tensor([0.0, 2.0])]),
        atol=1e-6)


@pytest.mark.parametrize('task', ['cls', 'seg'])
def test_tasks_train_and_predict(task):
    model = build(task)
    x = torch.randn(2, 3, 48, 80)
    data = samples()
    losses = model.loss(x, data)
    key = 'loss_cls' if task == 'cls' else 'loss_cam'
    assert list(losses) == [key] and torch.isfinite(losses[key])
    losses[key].backward()
    assert model.prompt_learner.ctx.grad.abs().sum() > 0
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ['prompt_learner.ctx']
    model.eval()
    with torch.no_grad():
        out = model.predict(x, data)
    cams = out[0].cams.data
    assert cams.shape == (3, 48, 80) and cams.min() >= 0 and cams.max() <= 1
    assert cams[1].abs().sum() == 0  # absent class
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 1, 3}
