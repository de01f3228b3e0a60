"""POLETerm: CLIMS losses whose class text comes per image from the selection file
(numbers worked out by hand on a fake CLIP whose similarities are known), the release's
fixed per-class mode, the weights, and errors naming the image and the file."""
import json
import math

import pytest
import torch
from mmengine.structures import BaseDataElement
from torch import nn

from mmwsss.models.foundation.pole_synonyms import POLE_RELEASE_BEST_PROMPTS
from mmwsss.models.losses.terms.clims import CLIMSTerm
from mmwsss.models.losses.terms.pole import POLETerm, pole_positive_texts
from mmwsss.structures import TrainContext


def test_positive_texts_per_image_lookup():
    pos = torch.tensor([[0, 14], [1, 6], [1, 14]])
    prompts = {'a': {14: 'man'}, 'b': {6: 'taxi', 14: 'woman'}}
    texts = pole_positive_texts(pos, ['a', 'b'], prompts, 'A photo of {}.', 'f.json')
    # image 0 class 14 -> 'man'; image 1 class 6 -> 'taxi', class 14 -> 'woman'
    assert texts == ['A photo of man.', 'A photo of taxi.', 'A photo of woman.']
    with pytest.raises(KeyError, match="'c'.*f.json"):
        pole_positive_texts(pos, ['a', 'c'], prompts, 'A photo of {}.', 'f.json')
    with pytest.raises(KeyError, match='class 6.*f.json'):
        pole_positive_texts(pos, ['a', 'a'], prompts, 'A photo of {}.', 'f.json')


class FakeCLIP(nn.Module):
    """Text: texts in ``near`` -> (1, 0), anything else -> (0, 1).
    Image: normalize([mean of the view, 0.5])."""

    def __init__(self, near):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.near = set(near)
        self.encoded = []

    def encode_text(self, texts, normalize=True):
        self.encoded.append(list(texts))
        return torch.tensor([[1.0, 0.0] if t in self.near else [0.0, 1.0] for t in texts])

    def encode_image(self, img, pool='tok', normalize=True):
        m = img.flatten(1).mean(1)
        return nn.functional.normalize(torch.stack([m, torch.full_like(m, 0.5)], 1), dim=-1)


def _ctx(raw, labels, paths):
    samples = [BaseDataElement(metainfo=dict(img_path=p)) for p in paths]
    ctx = TrainContext(
        inputs=torch.ones(len(paths), 3, 9, 13),
        img=None,
        img_labels=labels,
        data_samples=samples,
        iter=0)
    ctx.cams['clims'] = raw
    return ctx


def _file(tmp_path, data):
    path = tmp_path / 'prompts.json'
    path.write_text(json.dumps(data))
    return str(path)


def test_term_uses_the_image_token_as_class_text(tmp_path):
    prompts = _file(tmp_path, {'img0': {'7': 'kitten'}, 'img1': {'7': 'tabby cat'}})
    term = POLETerm(prompt_file=prompts)
    fake = FakeCLIP(['A photo of kitten.'])
    term.set_clip(fake)
    # sigmoid(ln 4) = 0.8 everywhere, image of ones: fg view mean 0.8, bg view 0.2
    raw = torch.full((2, 20, 4, 6), math.log(4.0), requires_grad=True)
    labels = torch.zeros(2, 20)
    labels[:, 7] = 1
    out = term(_ctx(raw, labels, ['/d/JPEGImages/img0.jpg', '/d/JPEGImages/img1.jpg']))
    # fg emb (0.847998, 0.529999), bg emb (0.371391, 0.928477)
    # image 0: text 'A photo of kitten.' = (1, 0): s_fg 0.847998, s_bg 0.371391
    # image 1: text 'A photo of tabby cat.' = (0, 1): s_fg 0.529999, s_bg 0.928477
    otm = (0.1648766 + 0.6348803) / 2  # -ln 0.847998, -ln 0.529999
    btm = (0.4642453 + 2.6377319) / 2  # -ln(1 - 0.371391), -ln(1 - 0.928477)
    assert out['otm'].item() == pytest.approx(otm, abs=1e-5)
    assert out['btm'].item() == pytest.approx(btm, abs=1e-4)
    # the release's --hyper 10,25,1,0: BTM x25, no area term
    assert out['loss_otm'].item() == pytest.approx(10 * otm, abs=1e-4)
    assert out['loss_btm'].item() == pytest.approx(25 * btm, abs=1e-3)
    assert out['loss_reg'].item() == 0.0 and out['reg'].item() == pytest.approx(0.8, abs=1e-6)
    # CBS is CLIMS's: 2 positives x 10 background prompts (0, 1), cos 0.53 > 0.26
    assert out['cbs'].item() == pytest.approx(20 * 0.7550203, abs=1e-3)
    sum(v for k, v in out.items() if k.startswith('loss')).backward()
    assert raw.grad.abs().sum() > 0
    # every prompt of the file is encoded once, on the first step
    n = len(fake.encoded)
    term(_ctx(raw.detach(), labels, ['/d/JPEGImages/img1.jpg', '/d/JPEGImages/img0.jpg']))
    assert len(fake.encoded) == n
    assert ['A photo of kitten.', 'A photo of tabby cat.'] in fake.encoded


def test_term_per_class_mode_is_clims_with_fixed_texts():
    term = POLETerm(text_mode='per_class', class_prompts='release_best')
    assert term.class_prompts == POLE_RELEASE_BEST_PROMPTS
    term.set_clip(FakeCLIP([]))
    raw = torch.full((1, 20, 4, 6), math.log(4.0))
    labels = torch.zeros(1, 20)
    labels[0, 7] = 1
    out = term(_ctx(raw, labels, ['/x/anything.jpg']))  # no prompt file needed
    assert out['otm'].item() == pytest.approx(0.6348803, abs=1e-5)  # text (0, 1)
    # the same numbers as CLIMSTerm with those prompts and weights
    ref = CLIMSTerm(class_prompts=POLE_RELEASE_BEST_PROMPTS, loss_weights=(10, 25, 1, 0))
    ref.set_clip(FakeCLIP([]))
    ref_out = ref(_ctx(raw, labels, ['/x/anything.jpg']))
    for k in ('loss_otm', 'loss_btm', 'loss_cbs', 'loss_reg'):
        assert out[k].item() == pytest.approx(ref_out[k].item(), abs=1e-6)


def test_term_errors_name_the_image_and_the_file(tmp_path):
    prompts = _file(tmp_path, {'img0': {'7': 'kitten'}})
    term = POLETerm(prompt_file=prompts)
    term.set_clip(FakeCLIP([]))
    raw = torch.zeros(1, 20, 4, 4)
    labels = torch.zeros(1, 20)
    labels[0, 7] = 1
    with pytest.raises(KeyError, match='img9.jpg.*prompts.json'):
        term(_ctx(raw, labels, ['/d/img9.jpg']))
    labels[0, 3] = 1
    with pytest.raises(KeyError, match="'img0' has no token for class 3.*prompts.json"):
        term(_ctx(raw, labels, ['/d/img0.jpg']))
    with pytest.raises(ValueError, match='prompt_file'):
        t = POLETerm()
        t.set_clip(FakeCLIP([]))
        t(_ctx(raw, labels, ['/d/img0.jpg']))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        t = POLETerm(prompt_file=str(tmp_path / 'missing.json'))
        t.set_clip(FakeCLIP([]))
        t(_ctx(raw, labels, ['/d/img0.jpg']))
    with pytest.raises(ValueError):
        POLETerm(text_mode='per_word')
    with pytest.raises(ValueError):
        POLETerm(version='camera_ready')


def test_term_no_positive_and_real_tiny_clip(tmp_path):
    pytest.importorskip('open_clip')
    from mmwsss.models.foundation import TINY_CLIP_CFG
    prompts = _file(tmp_path, {'a': {'2': 'parrot', '9': 'calf'}, 'b': {'14': 'child'}})
    term = POLETerm(
        prompt_file=prompts, clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG, checkpoint=None))
    raw = torch.randn(2, 20, 5, 7, requires_grad=True)
    labels = torch.zeros(2, 20)
    labels[0, [2, 9]] = 1
    labels[1, 14] = 1
    out = term(_ctx(raw, labels, ['/r/a.jpg', '/r/b.jpg']))
    assert all(torch.isfinite(v) for v in out.values())
    assert not any(True for _ in term.parameters())
    out = term(_ctx(raw, torch.zeros(2, 20), ['/r/a.jpg', '/r/b.jpg']))
    assert out['otm'].item() == 0.0
