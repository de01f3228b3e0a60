"""MedPrompt prompt learner on a tiny random CLIP: numbers worked out by hand."""
import math

import pytest
import torch

from mmwsss.models.foundation.medprompt import (MedPromptLearner, medprompt_ctx_loss,
                                                medprompt_label_loss, medprompt_logits)

pytest.importorskip('open_clip')


@pytest.fixture(scope='module')
def clip():
    from mmwsss.models.foundation import TINY_CLIP_CFG, OpenCLIP
    torch.manual_seed(0)
    return OpenCLIP(TINY_CLIP_CFG)


def test_losses_by_hand():
    logits = torch.tensor([[0., math.log(3.)]])
    labels = torch.tensor([[1., 0.]])
    # BCE: (ln 2 + ln(1 + 3)) / 2 = 1.5 ln 2; CE: -log(1 / (1 + 3)) = ln 4
    assert torch.isclose(medprompt_label_loss(logits, labels), torch.tensor(1.5 * math.log(2)))
    assert torch.isclose(medprompt_label_loss(logits, labels, 'ce'), torch.tensor(math.log(4)))
    # two labels: target (1/2, 1/2): -(ln(1/4) + ln(3/4)) / 2
    both = medprompt_label_loss(logits, torch.ones(1, 2), 'ce')
    assert torch.isclose(both, torch.tensor(-(math.log(.25) + math.log(.75)) / 2))
    # self-training: argmax 0 -> log(1 + e^-2)
    assert torch.isclose(
        medprompt_ctx_loss(torch.tensor([[2., 0.]])), torch.tensor(math.log(1 + math.exp(-2))))
    img = torch.tensor([[3., 4.]])
    txt = torch.tensor([[1., 0.], [0., 2.]])
    assert torch.allclose(medprompt_logits(img, txt, torch.tensor(10.)), torch.tensor([[6., 8.]]))
    with pytest.raises(ValueError, match='focal'):
        medprompt_label_loss(logits, labels, 'focal')


def test_learner_layout_and_gradients(clip):
    names = ['edema', 'pleural effusion', 'cardiomegaly']
    learner = MedPromptLearner(clip, names, n_ctx=4)
    # SOS, 4 context slots, the class slot, '.', EOS -> EOS at index 7
    assert learner.eot_idx.tolist() == [7, 7, 7]
    assert learner.ctx.shape == (4, 32) and learner.cls_vec.shape == (3, 32)
    # class vector init: mean of the name's token embeddings
    ids = clip.tokenize(['pleural effusion'])[0]
    n = int(ids.argmax()) - 1
    want = clip.clip.token_embedding(ids[1:1 + n]).mean(0)
    assert torch.allclose(learner.cls_vec[1], want)
    assert learner().shape == (3, 32)
    img = torch.randn(5, 32, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([[1., 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0], [0, 0, 0]])
    # class_only: the label loss reaches the class vectors, never the context
    learner.zero_grad()
    learner.losses(img, labels)['loss_label'].backward()
    assert learner.ctx.grad is None and learner.cls_vec.grad.abs().sum() > 0
    # ... and the annotation-free loss reaches the context only
    learner.zero_grad()
    learner.losses(img, labels, ctx_weight=1.0)['loss_ctx'].backward()
    assert learner.ctx.grad.abs().sum() > 0 and learner.cls_vec.grad is None
    assert all(p.grad is None for p in clip.parameters())  # CLIP stays frozen
    coop = MedPromptLearner(clip, names, n_ctx=4, label_guided='all')
    coop.losses(img, labels)['loss_label'].backward()
    assert coop.ctx.grad.abs().sum() > 0
    # seeded random context: two learners agree
    assert torch.equal(coop.ctx, learner.ctx.detach())


def test_learner_options(clip):
    init = MedPromptLearner(clip, ['edema'], n_ctx=3, ctx_init='a chest x')
    ids = clip.tokenize(['a chest x'])[0]
    assert torch.allclose(init.ctx, clip.clip.token_embedding(ids[1:4]))
    csc = MedPromptLearner(clip, ['a', 'b'], n_ctx=2, class_specific_ctx=True)
    assert csc.ctx.shape == (2, 2, 32)
    with pytest.raises(ValueError, match='n_ctx=4'):
        MedPromptLearner(clip, ['edema'], n_ctx=4, ctx_init='a chest')
    with pytest.raises(ValueError, match='label_guided'):
        MedPromptLearner(clip, ['edema'], label_guided='ctx')
