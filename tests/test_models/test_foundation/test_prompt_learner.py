"""PromptLearner (CoOp-style learned prompts) on a tiny random CLIP."""
import pytest
import torch

from mmwsss.models.foundation.prompt_learner import (PromptLearner, encode_prompt_embeddings,
                                                     fill_prompt_slots, parse_template,
                                                     template_token_ids)

pytest.importorskip('open_clip')


@pytest.fixture(scope='module')
def clip():
    from mmwsss.models.foundation import TINY_CLIP_CFG, OpenCLIP
    torch.manual_seed(0)
    return OpenCLIP(TINY_CLIP_CFG)


def test_parse_template():
    assert parse_template('a photo of {ctx}.') == [('text', 'a photo of '), ('ctx', ''),
                                                   ('text', '.')]
    assert [k for k, _ in parse_template('{name} {ctx}.')] == ['name', 'text', 'ctx', 'text']
    with pytest.raises(KeyError, match='classname'):
        parse_template('{ctx} {classname}.')
    with pytest.raises(ValueError, match='twice'):
        parse_template('{ctx} {name} {ctx}.')


def test_template_ids_equal_whole_string_tokenisation(clip):
    names = ['cat', 'potted plant', 'tv monitor']
    ids, ctx_pos, cls_pos, eot = template_token_ids('{ctx} {name}.', names, 3)
    # the slots hold 'x': the piece-wise ids equal tokenising 'x x x <name>.' at once
    assert torch.equal(ids, clip.tokenize([f'x x x {n}.' for n in names]))
    assert ctx_pos.tolist() == [[1, 2, 3]] * 3 and cls_pos.tolist() == [-1] * 3
    # SOS, 3 ctx, name (1 / 2 / 2 tokens), '.', EOS
    assert eot.tolist() == [6, 7, 7] and torch.equal(eot, ids.argmax(-1))
    ids, ctx_pos, _, eot = template_token_ids('{name} {ctx}.', names, 2)
    assert ctx_pos.tolist() == [[2, 3], [3, 4], [3, 4]]
    _, ctx_pos, cls_pos, eot = template_token_ids('a photo of {ctx}.', names, 30)
    assert ctx_pos[0].tolist() == list(range(4, 34)) and eot.tolist() == [35] * 3
    _, ctx_pos, cls_pos, _ = template_token_ids('{ctx} {cls}.', names, 4)
    assert cls_pos.tolist() == [5, 5, 5]
    with pytest.raises(ValueError, match='potted plant'):
        template_token_ids('{ctx} {name}.', names, 73)  # cat: 77 fits


def test_fill_slots_by_hand():
    embeds = torch.zeros(2, 6, 3)
    ctx = torch.arange(6.).view(2, 3).requires_grad_()
    cls_vec = torch.tensor([[10., 10, 10], [20, 20, 20]], requires_grad=True)
    ctx_pos = torch.tensor([[1, 2], [2, 3]])
    out = fill_prompt_slots(embeds, ctx_pos, ctx, torch.tensor([3, 1]), cls_vec)
    assert torch.equal(out[0, 1:3], ctx.detach()) and torch.equal(out[1, 2:4], ctx.detach())
    assert torch.equal(out[0, 3], cls_vec[0].detach()) and torch.equal(out[1, 1], cls_vec[1])
    assert out[:, 0].abs().sum() == 0 and out[:, 4:].abs().sum() == 0 and embeds.sum() == 0
    out.sum().backward()
    assert (ctx.grad == 2).all() and (cls_vec.grad == 1).all()
    csc = fill_prompt_slots(embeds, ctx_pos,
                            torch.stack([ctx, ctx + 1]).detach(), torch.tensor([-1, -1]), None)
    assert torch.equal(csc[1, 2:4], ctx.detach() + 1)


def test_encode_embeddings_matches_open_clip(clip):
    tokens = clip.tokenize(['a chest x-ray with edema.', 'normal lung'])
    embeds = clip.clip.token_embedding(tokens)
    ours = encode_prompt_embeddings(clip.clip, embeds, tokens.argmax(-1))
    assert torch.allclose(ours, clip.clip.encode_text(tokens), atol=1e-5)


def test_learner_equals_text_prompt_when_ctx_is_a_phrase(clip):
    """A context initialised from 'a photo of' gives exactly the text prompt."""
    learner = PromptLearner(clip, ['cat', 'dining table'], n_ctx=3, ctx_init='a photo of')
    want = clip.encode_text(['a photo of cat.', 'a photo of dining table.'])
    assert torch.allclose(learner(), want, atol=1e-5)


def test_learner_gradients_and_inits(clip):
    names = ['cat', 'dog']
    coop = PromptLearner(clip, names, n_ctx=4, ctx_std=0.015)
    assert coop.ctx.shape == (4, 32) and coop.cls_vec is None
    assert 0.005 < coop.ctx.std() < 0.03
    coop().sum().backward()
    assert coop.ctx.grad.abs().sum() > 0
    assert all(p.grad is None for p in clip.parameters())  # CLIP stays frozen
    semples = PromptLearner(
        clip,
        names,
        template='a photo of {ctx}.',
        n_ctx=5,
        class_specific_ctx=True,
        ctx_init='uniform')
    assert semples.ctx.shape == (2, 5, 32) and (semples.ctx >= 0).all() and semples.ctx.max() < 1
    # same seed, same init
    again = PromptLearner(
        clip,
        names,
        template='a photo of {ctx}.',
        n_ctx=5,
        class_specific_ctx=True,
        ctx_init='uniform')
    assert torch.equal(again.ctx, semples.ctx)
    med = PromptLearner(clip, names, template='{ctx} {cls}.', n_ctx=2)
    med.text_features(detach=('ctx', )).sum().backward()
    assert med.ctx.grad is None and med.cls_vec.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='n_ctx=4'):
        PromptLearner(clip, names, n_ctx=4, ctx_init='a photo')
