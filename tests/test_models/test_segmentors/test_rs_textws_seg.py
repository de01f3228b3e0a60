"""RS-TextWS-Seg: the stage-1 losses by hand, partial fine-tuning, the trained-only
checkpoint and stage 2 (CLIP-ES) reading it, on a tiny random CLIP."""
import math

import pytest
import torch
from mmengine.registry import init_default_scope

from mmwsss.models.foundation import CLIP_MEAN, CLIP_STD, TINY_CLIP_CFG, OpenCLIP
from mmwsss.models.foundation.clip_finetune import load_partial_state_dict, partial_finetune
from mmwsss.models.segmentors.rs_textws_seg import (rs_textws_logits, rs_textws_sigmoid_loss,
                                                    rs_textws_softmax_loss)
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample
from mmwsss.utils.checkpoint_compat import CheckpointMismatchError, load_checkpoint_strict

pytest.importorskip('open_clip')

NAMES = ['ship', 'plane', 'harbor']
BG = ['water', 'ground']
PRE = dict(
    type='mmseg.SegDataPreProcessor',
    mean=CLIP_MEAN,
    std=CLIP_STD,
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)


# ------------------------------------------------------------------ losses by hand
def toy_logits():
    """text = e1, e2, e3; image 1 = e1, image 2 = (0, 3, 4) / 5; scale 2:
    cos = [[1, 0, 0], [0, .6, .8]] -> logits [[2, 0, 0], [0, 1.2, 1.6]]."""
    text = torch.eye(3)
    img = torch.tensor([[1., 0., 0.], [0., 3., 4.]])  # any norm: normalised inside
    return rs_textws_logits(img, text, torch.tensor(2.))


LABELS = torch.tensor([[1., 0., 0.], [0., 1., 1.]])


def test_logits_by_hand():
    assert torch.allclose(toy_logits(), torch.tensor([[2., 0., 0.], [0., 1.2, 1.6]]))
    biased = rs_textws_logits(
        torch.tensor([[0., 3., 4.]]), torch.eye(3), torch.tensor(2.), torch.tensor(-1.))
    assert torch.allclose(biased, torch.tensor([[-1., 0.2, 0.6]]))


def test_softmax_loss_by_hand():
    # image 1: target (1, 0, 0): -log(e^2 / (e^2 + 2)) = log(1 + 2 e^-2) = 0.2395448
    # image 2: target (0, .5, .5), Z = 1 + e^1.2 + e^1.6 = 9.2731490:
    #   0.5 * ((log Z - 1.2) + (log Z - 1.6)) = 0.8271231
    # mean = 0.5333339
    loss = rs_textws_softmax_loss(toy_logits(), LABELS)
    assert loss.item() == pytest.approx(0.5333339, abs=1e-6)
    assert math.log(1 + 2 * math.exp(-2)) == pytest.approx(0.2395448, abs=1e-6)


def test_softmax_loss_leaves_out_unlabelled_images():
    logits = torch.cat([toy_logits(), torch.tensor([[5., -3., 1.]])])
    labels = torch.cat([LABELS, torch.zeros(1, 3)])
    # the third (background-only) image changes nothing: same mean over the 2 labelled
    assert rs_textws_softmax_loss(logits, labels).item() == pytest.approx(0.5333339, abs=1e-6)
    only_bg = torch.tensor([[5., -3., 1.]], requires_grad=True)
    loss = rs_textws_softmax_loss(only_bg, torch.zeros(1, 3))
    assert loss.item() == 0.
    loss.backward()  # still a graph: every process runs the same backward
    assert torch.equal(only_bg.grad, torch.zeros(1, 3))


def test_sigmoid_loss_by_hand():
    # logits 2 * cos - 1 = [[1, -1, -1], [-1, 0.2, 0.6]], labels [[1, 0, 0], [0, 1, 1]]
    # positives softplus(-z): z=1 -> 0.3132617, z=0.2 -> 0.5981389, z=0.6 -> 0.4374879
    # negatives softplus(z): z=-1 -> 0.3132617 (three of them)
    # sum = 4 * 0.3132617 + 0.5981389 + 0.4374879 = 2.2886735; mean over 6 = 0.3814456
    logits = toy_logits() - 1.
    loss = rs_textws_sigmoid_loss(logits, LABELS)
    assert loss.item() == pytest.approx(0.3814456, abs=1e-6)


# --------------------------------------------------------------------- models
def samples(labels, shape=(64, 80)):
    out = []
    for lab in labels:
        s = WSSSDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, img_path='x.png'))
        s.gt_img_label = torch.tensor(lab, dtype=torch.float32)
        out.append(s)
    return out


def build_tuner(**kwargs):
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    cfg = dict(
        type='RSTextWSCLIPTuner',
        clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG),
        class_names=NAMES,
        bg_class_names=BG,
        train_blocks=1,
        data_preprocessor=PRE)
    cfg.update(kwargs)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def base_ckpt(tmp_path_factory):
    """A tiny CLIP state-dict file: the 'CLIP checkpoint' both stages read."""
    torch.manual_seed(123)
    clip = OpenCLIP(arch=TINY_CLIP_CFG)
    path = tmp_path_factory.mktemp('clip') / 'tiny_clip.pth'
    torch.save(clip.clip.state_dict(), path)
    return str(path)


def train_steps(model, n=3, lr=0.05):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 64, 80, generator=g)
    ds = samples([[1, 0, 0], [0, 1, 1]])
    for _ in range(n):
        opt.zero_grad()
        model.loss(x, ds)['loss_cls'].backward()
        opt.step()


def test_partial_finetune_selects_the_last_blocks():
    clip = OpenCLIP(arch=TINY_CLIP_CFG, frozen=False)
    names = partial_finetune(clip, 2, train_ln_post=False, train_proj=True)
    assert names and all(
        n.startswith(('visual.transformer.resblocks.1.', 'visual.transformer.resblocks.2.',
                      'visual.proj')) for n in names)
    assert 'visual.proj' in names
    assert not any('ln_post' in n or 'resblocks.0.' in n for n in names)
    assert partial_finetune(clip, 0, False, False) == []
    with pytest.raises(ValueError, match='train_blocks'):
        partial_finetune(clip, 4)


def test_finetuning_leaves_frozen_weights_bit_identical():
    model = build_tuner(train_blocks=1, loss_bg=True)
    before = {k: v.clone() for k, v in model.clip.clip.state_dict().items()}
    train_steps(model)
    after = model.clip.clip.state_dict()
    trained = {k[len('clip.clip.'):] for k in model.trained_keys}
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, 'the trained block did not move'
    assert changed <= trained
    assert any(k.startswith('visual.transformer.resblocks.2.') for k in changed)
    for k in before:
        if k not in trained:  # blocks 0-1, text tower, embeddings, logit_scale
            assert torch.equal(before[k], after[k]), k


def test_loss_bg_pads_background_as_negative():
    model = build_tuner(loss_bg=True)
    x = torch.randn(2, 3, 64, 80)
    ds = samples([[1, 0, 0], [0, 1, 1]])
    feats = model.clip.encode_image(x)
    logits = model.logits(feats)
    assert logits.shape == (2, len(NAMES) + len(BG))
    labels = torch.cat([torch.stack([s.gt_img_label for s in ds]), torch.zeros(2, 2)], 1)
    expected = rs_textws_softmax_loss(logits, labels)
    assert torch.allclose(model.loss(x, ds)['loss_cls'], expected)


def test_checkpoint_keeps_only_trained_tensors(base_ckpt, tmp_path):
    model = build_tuner(clip_checkpoint=base_ckpt, loss='sigmoid')
    keys = set(model.state_dict())
    assert keys == set(model.trained_keys) | {'sigmoid_log_scale', 'sigmoid_bias'}
    assert not any(k.startswith('clip.clip.transformer.') for k in keys)  # text tower
    assert model.sigmoid_log_scale.exp().item() == pytest.approx(10.)
    # a strict reload (tools/test.py's loader) of that file fits exactly
    path = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict=model.state_dict()), path)
    load_checkpoint_strict(build_tuner(clip_checkpoint=base_ckpt, loss='sigmoid'), str(path))
    # random base weights (no CLIP file) are kept: stage 2 could not rebuild them
    assert set(build_tuner().state_dict()) >= {
        'clip.' + k
        for k in OpenCLIP(arch=TINY_CLIP_CFG).state_dict()
    }


def build_stage2(base_ckpt, checkpoint=None, **kwargs):
    init_default_scope('mmwsss')
    cfg = dict(
        type='RSTextWSCLIPES',
        clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG),
        clip_checkpoint=base_ckpt,
        finetuned=dict(checkpoint=checkpoint),
        class_names=NAMES,
        bg_class_names=BG,
        templates=['a remote sensing image of {}.'],
        attn_layers=2,
        data_preprocessor=PRE)
    cfg.update(kwargs)
    return MODELS.build(cfg).eval()


def stage2_cams(model):
    g = torch.Generator().manual_seed(3)
    img = torch.randint(0, 256, (3, 48, 80), generator=g, dtype=torch.uint8)
    s = samples([[1, 0, 1]], shape=(48, 80))
    out = model.test_step(dict(inputs=[img], data_samples=s))
    return out[0].cams.data


def test_stage2_loads_the_stage1_weights(base_ckpt, tmp_path):
    tuner = build_tuner(clip_checkpoint=base_ckpt, train_blocks=1)
    train_steps(tuner, lr=0.5)
    path = tmp_path / 'iter_3.pth'
    torch.save(dict(meta=dict(), state_dict=tuner.state_dict()), path)

    plain = build_stage2(base_ckpt)
    tuned = build_stage2(base_ckpt, str(path))
    assert tuned.loaded_keys == sorted(tuner.trained_keys)
    own = tuned.state_dict()
    for k, v in tuner.state_dict().items():
        assert torch.equal(own[k], v), k
    # the frozen weights are the CLIP file's, in both
    for k, v in plain.clip.clip.state_dict().items():
        if 'clip.clip.' + k not in tuner.trained_keys:
            assert torch.equal(tuned.clip.clip.state_dict()[k], v), k
    cams_plain, cams_tuned = stage2_cams(plain), stage2_cams(tuned)
    assert cams_plain.shape == cams_tuned.shape == (3, 48, 80)
    assert torch.all(cams_tuned[1] == 0)  # absent class
    assert (cams_plain - cams_tuned).abs().max() > 1e-3


def test_stage2_learned_prompts_roundtrip(base_ckpt, tmp_path):
    prompt = dict(template='{ctx} {name}.', n_ctx=2)
    tuner = build_tuner(clip_checkpoint=base_ckpt, prompt=prompt)
    assert 'prompt.ctx' in tuner.trained_keys
    train_steps(tuner, lr=0.5)
    path = tmp_path / 'prompt.pth'
    torch.save(dict(state_dict=tuner.state_dict()), path)
    tuned = build_stage2(base_ckpt, str(path), prompt=prompt)
    assert torch.equal(tuned.prompt.ctx, tuner.prompt.ctx)
    fg, bg = tuned.text_embeddings()
    with torch.no_grad():
        assert torch.allclose(fg, tuner.prompt.text_features(), atol=1e-6)
    assert bg.shape == (len(BG), fg.shape[1])
    with pytest.raises(ValueError, match='learned prompts'):
        build_stage2(base_ckpt, str(path))


def test_load_partial_state_dict_errors(base_ckpt, tmp_path):
    model = build_stage2(base_ckpt)
    bad = tmp_path / 'bad.pth'
    torch.save({'clip.clip.visual.proj': torch.zeros(3, 3)}, bad)
    with pytest.raises(CheckpointMismatchError, match='shape mismatch'):
        load_partial_state_dict(model, str(bad))
    torch.save({'clip.clip.visual.nope': torch.zeros(3)}, bad)
    with pytest.raises(CheckpointMismatchError, match='does not have'):
        load_partial_state_dict(model, str(bad))
    proj = model.clip.clip.visual.proj
    torch.save({'clip.clip.visual.proj': torch.full_like(proj, float('nan'))}, bad)
    with pytest.raises(CheckpointMismatchError, match='NaN'):
        load_partial_state_dict(model, str(bad))
    torch.save({'head.weight': torch.zeros(1)}, bad)
    with pytest.raises(CheckpointMismatchError, match='no key'):
        load_partial_state_dict(model, str(bad), prefixes=('clip.', ))
    with pytest.raises(FileNotFoundError, match='stage-1 checkpoint not found'):
        build_stage2(base_ckpt, str(tmp_path / 'missing.pth'))


def test_tuner_predict_contract():
    model = build_tuner().eval()
    imgs = [torch.randint(0, 256, (3, 48, 80), dtype=torch.uint8)]
    with torch.no_grad():
        out = model.test_step(dict(inputs=imgs, data_samples=samples([[0, 1, 0]], (48, 80))))
    cams = out[0].cams.data
    assert cams.shape == (3, 48, 80)
    assert torch.all(cams[[0, 2]] == 0)
    assert set(out[0].pred_sem_seg.data.unique().tolist()) <= {0, 2}


def test_tuner_rejects_bad_options():
    with pytest.raises(ValueError, match='loss'):
        build_tuner(loss='focal')
    with pytest.raises(ValueError, match='nothing to train'):
        build_tuner(train_blocks=0, train_ln_post=False, train_proj=False)
    with pytest.raises(ValueError, match='loss_bg'):
        build_tuner(bg_class_names=[], loss_bg=True)
