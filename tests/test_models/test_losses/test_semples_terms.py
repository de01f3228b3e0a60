"""SemPLeS formulas with numbers worked out by hand, the term's three stages on a random
tiny CLIP, and the prompts' trip through a checkpoint."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.foundation.open_clip_model import CLIP_MEAN, CLIP_STD, TINY_CLIP_CFG
from mmwsss.models.losses.terms.clims import cosine_pairs
from mmwsss.models.losses.terms.semples import (SemPLeSTerm, btp_init, contrastive_prompt_loss,
                                                find_prompt_state, prompt_refinement_loss,
                                                semples_cam_maps)
from mmwsss.structures import TrainContext

TINY = dict(type='OpenCLIP', arch=TINY_CLIP_CFG, quick_gelu=True, checkpoint=None)


def test_cam_maps_minmax_eps_01_non_symmetric():
    cam = torch.tensor([[[[0., 1.], [2., 4.]]]])
    # size 2 with align_corners=True is the identity; (x - 0) / (4 - 0 + 0.1)
    out = semples_cam_maps(cam, size=2, eps=0.1)
    expected = torch.tensor([0., 1 / 4.1, 2 / 4.1, 4 / 4.1]).view(1, 1, 2, 2)
    assert torch.allclose(out, expected, atol=1e-6)
    assert out.max() < 1  # eps 0.1 keeps every map below 1
    # stage b's eps 1e-4: the maximum is 4 / 4.0001
    assert math.isclose(float(semples_cam_maps(cam, 2, 1e-4).max()), 4 / 4.0001, rel_tol=1e-6)


def test_cam_maps_resize_before_minmax():
    cam = torch.tensor([[[[0., 1.], [2., 4.]]]]) + 3.0  # min 3, range 4
    out = semples_cam_maps(cam, size=3, eps=0.1)
    # align_corners=True samples at 0, 0.5, 1: rows [0, .5, 1], [1, 1.75, 2.5], [2, 3, 4]
    up = torch.tensor([[0., .5, 1.], [1., 1.75, 2.5], [2., 3., 4.]])
    assert torch.allclose(out[0, 0], up / 4.1, atol=1e-6)


def test_contrastive_prompt_loss_two_toy_embeddings():
    # unnormalised on purpose: cosine_pairs normalises
    bg = torch.tensor([[2., 0.], [0.6, 0.8]])
    prompts = torch.tensor([[0.6, 0.8], [0., 3.]])
    text = torch.tensor([[0., 1.], [5., 0.]])
    s_bg = cosine_pairs(bg, prompts)  # 0.6, 0.8
    s_txt = cosine_pairs(text, prompts)  # 0.8, 0 -> clamped to 1e-4
    assert torch.allclose(s_bg, torch.tensor([0.6, 0.8]))
    assert torch.allclose(s_txt, torch.tensor([0.8, 0.0]), atol=1e-7)
    pull, push = contrastive_prompt_loss(s_bg, s_txt, lambda2=0.02)
    # -(log 0.6 + log 0.8) / 2 and 0.02 (log 0.8 + log 1e-4) / 2
    assert math.isclose(float(pull), 0.3669846, rel_tol=1e-5)
    assert math.isclose(float(push), -0.09433484, rel_tol=1e-5)


def test_prompt_refinement_loss_lambda3_term():
    sim = torch.tensor([0.5, 0.9, 1.2])  # 1.2 -> clamped to 0.9999
    # -(log 0.5 + log 0.1 + log 1e-4) / 3 = 4.06869; float32 rounds 1 - 0.9999 to 1.0002e-4
    assert math.isclose(float(prompt_refinement_loss(sim)), 4.0686907, rel_tol=2e-5)


def test_btp_init_matches_prompt_learner_uniform():
    from mmwsss.models.foundation.prompt_learner import PromptLearner
    from mmwsss.registry import MODELS
    clip = MODELS.build(TINY)
    learner = PromptLearner(
        clip, ['a', 'b', 'c'],
        template='a photo of {ctx}.',
        n_ctx=30,
        class_specific_ctx=True,
        ctx_init='uniform',
        seed=3)
    assert torch.equal(learner.ctx.data, btp_init(3, 30, 32, seed=3))
    # 'a photo of' + 30 slots + '.': the end-of-text token sits at 5 + 30
    assert learner.eot_idx.tolist() == [35, 35, 35]
    assert learner.ctx_pos[0].tolist() == list(range(4, 34))


def _ctx(cams, labels, inputs):
    return TrainContext(
        inputs=inputs, img=inputs, img_labels=labels, data_samples=[], cams={'weaktr': cams})


@pytest.fixture
def batch():
    torch.manual_seed(0)
    cams = torch.rand(2, 20, 7, 5, requires_grad=True)
    labels = torch.zeros(2, 20)
    labels[0, 3] = 1
    labels[1, [4, 14]] = 1
    return cams, labels, torch.randn(2, 3, 112, 80)


def test_term_matching_and_refine_values(batch):
    cams, labels, inputs = batch
    torch.manual_seed(1)
    a = SemPLeSTerm(stage='matching', clip=TINY, lambda1=2.4)
    out = a(_ctx(cams, labels, inputs))
    assert torch.allclose(out['loss_btm'], 2.4 * out['btm'])
    assert set(out) == {'loss_otm', 'loss_btm', 'otm', 'btm'}
    assert a.prompts is None and list(a.state_dict()) == []  # no CLIP weights in the state
    c = SemPLeSTerm(stage='refine', clip=TINY, lambda3=0.05)
    c.set_clip(a.clip_model(inputs.device))
    out_c = c(_ctx(cams, labels, inputs))
    assert torch.allclose(out_c['loss_otm'], out['loss_otm'])
    # the lambda3 term by hand: cosine of the object views with the class prompts
    maps = semples_cam_maps(cams, 224, 0.1)
    img = c.clip_image_input(inputs)
    from mmwsss.models.losses.terms.clims import clims_masked_views
    fg, _, pos = clims_masked_views(maps, img, labels, 224)
    clip = c.clip_model(inputs.device)
    with torch.no_grad():
        emb = clip.encode_image(fg, pool='tok', normalize=True)
        p = c.prompt_learner(inputs.device).text_features()[pos[:, 1]]
    ref = prompt_refinement_loss(cosine_pairs(emb, p))
    assert torch.allclose(out_c['loss_prompt'], 0.05 * ref, atol=1e-6)
    assert not c.prompts.requires_grad


def test_term_prompt_stage_trains_prompts_only(batch):
    cams, labels, inputs = batch
    b = SemPLeSTerm(stage='prompt', clip=TINY, lambda2=0.02)
    assert b.eps == 1e-4 and b.prompts.shape == (20, 30, 32) and b.prompts.requires_grad
    out = b(_ctx(cams, labels, inputs))
    sum(v for k, v in out.items() if 'loss' in k).backward()
    assert cams.grad is None  # the CAM model is frozen in stage b
    assert b.prompts.grad is not None
    assert list(b.state_dict()) == ['prompts']


def test_clip_input_renormalisation():
    term = SemPLeSTerm(stage='matching', clip=TINY)
    white = torch.full((1, 3, 1, 1), 255.0)
    imagenet = (white - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)) / \
        torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    clip_norm = (white - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / \
        torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    assert torch.allclose(term.clip_image_input(imagenet), clip_norm, atol=1e-5)
    quirk = SemPLeSTerm(stage='matching', clip=TINY, clip_input='inputs')
    assert torch.equal(quirk.clip_image_input(imagenet), imagenet)


def test_prompts_load_from_checkpoint(tmp_path):
    from mmwsss.registry import MODELS
    b = SemPLeSTerm(stage='prompt', clip=TINY, prompt_seed=1)
    with torch.no_grad():
        b.prompts.mul_(2.0)
    path = str(tmp_path / 'iter_2.pth')
    torch.save(
        {
            'state_dict': {
                'loss_terms.0.prompts': b.prompts.detach().clone(),
                'branches.net.cam_heads.weaktr.head.bias': torch.zeros(20)
            }
        }, path)
    c = MODELS.build(dict(type='SemPLeSTerm', stage='refine', clip=TINY, prompt_checkpoint=path))
    assert not torch.equal(c.prompts, b.prompts)
    c.init_weights()
    assert torch.equal(c.prompts, b.prompts)
    missing = SemPLeSTerm(stage='refine', clip=TINY, prompt_checkpoint=str(tmp_path / 'no.pth'))
    with pytest.raises(FileNotFoundError, match='no.pth'):
        missing.init_weights()


def test_find_prompt_state_errors():
    state = {'a.prompts': torch.zeros(2, 3, 4), 'b.prompts': torch.zeros(5)}
    assert find_prompt_state(state, (2, 3, 4)).shape == (2, 3, 4)
    with pytest.raises(KeyError):
        find_prompt_state({'x': torch.zeros(1)}, (2, 3, 4))
    with pytest.raises(ValueError):
        find_prompt_state(state, (2, 3, 5), key='a.prompts')


def test_term_no_positive_gives_zero_losses(batch):
    cams, _, inputs = batch
    term = SemPLeSTerm(stage='refine', clip=TINY)
    out = term(_ctx(cams, torch.zeros(2, 20), inputs))
    assert all(float(v) == 0 for v in out.values())


def test_bad_arguments():
    with pytest.raises(ValueError):
        SemPLeSTerm(stage='d', clip=TINY)
    with pytest.raises(ValueError):
        SemPLeSTerm(clip_input='renormalize', clip=TINY)
    assert F is not None
