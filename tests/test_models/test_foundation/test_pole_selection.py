"""POLE's selection step: the argmax over candidates, the masked image (intent and the
official uint8-wrap / BGR quirks), CLIP's preprocessing, the candidate lists and files,
the prompt file reader and the image-key lookup; numbers worked out by hand."""
import json

import pytest
import torch

from mmwsss.models.foundation.clims_prompts import CLIMS_COCO_NAMES, CLIMS_VOC_NAMES
from mmwsss.models.foundation.pole_selection import (clip_preprocess, lookup_image_key,
                                                     pole_masked_image, pole_select_tokens,
                                                     read_pole_prompts, select_image_tokens)
from mmwsss.models.foundation.pole_synonyms import (POLE_RELEASE_BEST_PROMPTS, POLE_TEMPLATE,
                                                    load_candidate_file, pole_candidates)


def test_select_tokens_argmax_is_not_the_first_candidate():
    img = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # norms do not matter
    cand = torch.tensor([[1.0, 1.0], [3.0, 0.0], [0.0, 1.0]])
    idx, probs = pole_select_tokens(img, cand, logit_scale=1.0)
    # row 0: cos = (1/sqrt 2, 1, 0); softmax: e^.70711, e^1, e^0 = 2.02811, 2.71828, 1
    # over 5.74639 -> 0.352937, 0.473041, 0.174022 -> candidate 1
    assert idx.tolist() == [1, 2]
    assert probs[0].tolist() == pytest.approx([0.3529368, 0.4730411, 0.1740221], abs=1e-6)
    # row 1: cos = (1/sqrt 2, 0, 1) -> the same numbers, permuted
    assert probs[1].tolist() == pytest.approx([0.3529368, 0.1740221, 0.4730411], abs=1e-6)
    # CLIP's scale 100 sharpens but keeps the argmax
    assert pole_select_tokens(img, cand)[0].tolist() == [1, 2]


def test_select_tokens_ties_take_the_first_and_empty_is_refused():
    idx, probs = pole_select_tokens(torch.tensor([[1.0, 0.0]]), torch.tensor([[0., 1.], [0., 2.]]))
    assert idx.tolist() == [0] and probs[0].tolist() == pytest.approx([0.5, 0.5])
    with pytest.raises(ValueError):
        pole_select_tokens(torch.ones(1, 2), torch.ones(0, 2))


def test_masked_image_intent_and_uint8_wrap_quirk():
    img = torch.tensor([200, 10, 255], dtype=torch.uint8).view(3, 1, 1).expand(3, 1, 2).clone()
    cam = torch.tensor([[0.5, 1.0]])
    out = pole_masked_image(img, cam)
    # intent: trunc(I * cam): 200 * .5 = 100, 10 * .5 = 5, 255 * .5 = 127.5 -> 127
    assert out[:, 0, 0].tolist() == [100, 5, 127]
    assert out[:, 0, 1].tolist() == [200, 10, 255]
    wrap = pole_masked_image(img, cam, uint8_wrap=True)
    # official: trunc(I * cam * 255) mod 256: 25500 -> 25500 - 99 * 256 = 156;
    # 10 * .5 * 255 = 1275 -> 1275 - 4 * 256 = 251; 255 * .5 * 255 = 32512.5 -> 32512 -> 0
    assert wrap[:, 0, 0].tolist() == [156, 251, 0]
    # cam 1: 200 * 255 = 51000 -> 51000 - 199 * 256 = 56; 2550 -> 2550 - 9 * 256 = 246;
    # 65025 -> 1
    assert wrap[:, 0, 1].tolist() == [56, 246, 1]
    assert wrap.dtype == torch.uint8


def test_masked_image_bgr_quirk_swaps_red_and_blue():
    img = torch.tensor([10, 20, 30], dtype=torch.uint8).view(3, 1, 1)
    out = pole_masked_image(img, torch.ones(1, 1), bgr=True)
    assert out[:, 0, 0].tolist() == [30, 20, 10]
    with pytest.raises(ValueError):
        pole_masked_image(img, torch.ones(2, 1))


def test_clip_preprocess_shorter_side_centre_crop_and_clip_statistics():
    img = torch.full((3, 4, 6), 255, dtype=torch.uint8)
    x = clip_preprocess(img, size=2)
    # 4 x 6 -> shorter side 2: 2 x 3, centre crop 2 x 2
    assert x.shape == (1, 3, 2, 2)
    # (1 - mean) / std per channel (OpenAI CLIP statistics)
    assert x[0, :, 0, 0].tolist() == pytest.approx([1.9303363, 2.0748838, 2.1458970], abs=1e-5)
    # crop offset round((3 - 2) / 2) = 0 (Python rounds half to even): the left columns
    ramp = torch.arange(3, dtype=torch.uint8).view(1, 1, 3).expand(3, 2, 3).clone() * 100
    y = clip_preprocess(ramp, size=2)
    assert y.shape == (1, 3, 2, 2)
    first = (0 / 255 - 0.48145466) / 0.26862954
    assert y[0, 0, 0, 0].item() == pytest.approx(first, abs=1e-5)


class _FakeCLIP(torch.nn.Module):
    """Image embedding (mean of channel 0, mean of channel 2) of the preprocessed view."""

    logit_scale = torch.tensor(100.0)

    def encode_image(self, x, pool='tok', normalize=True):
        assert pool == 'tok' and x.shape[-2:] == (8, 8)
        emb = torch.stack([x[:, 0].mean((1, 2)), x[:, 2].mean((1, 2))], 1) + 3.0
        return torch.nn.functional.normalize(emb, dim=-1)


def test_select_image_tokens_per_present_class():
    img = torch.zeros(3, 8, 8, dtype=torch.uint8)
    img[0] = 255  # red image
    cams = torch.ones(2, 8, 8)
    cams[1] = 0.0  # class 5's CAM is empty: its view is black
    cand_emb = {
        2: torch.tensor([[0.0, 1.0], [1.0, 0.0]]),
        5: torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    }
    cands = {2: ['blue', 'red'], 5: ['a', 'b']}
    out = select_image_tokens(_FakeCLIP(), img, cams, [2, 5], cand_emb, cands, size=8)
    # class 2: red view -> channel 0 high -> 'red' (the second candidate)
    assert out[2][0] == 'red'
    # class 5: black view: (c0, c2) = ((0 - .481) / .269, (0 - .408) / .276) + 3
    # = (1.2077, 1.5198) -> cos with (1, 0) 0.622, with (.6, .8) 0.999 -> 'b'
    assert out[5][0] == 'b'
    assert sum(out[5][1]) == pytest.approx(1.0)


def test_candidates_built_in_and_user_file(tmp_path):
    voc = pole_candidates('voc')
    assert len(voc) == 20 and [c[0] for c in voc] == CLIMS_VOC_NAMES
    assert all(len(c) >= 3 and len(set(c)) == len(c) for c in voc)
    coco = pole_candidates('coco')
    assert len(coco) == 80 and [c[0] for c in coco] == CLIMS_COCO_NAMES
    assert POLE_TEMPLATE.format('cat') == 'A photo of cat.'
    assert len(POLE_RELEASE_BEST_PROMPTS) == 20
    assert POLE_RELEASE_BEST_PROMPTS[7] == 'a photo of cat'  # the release's missing full stop
    path = tmp_path / 'cands.json'
    good = {n: [n, 'x'] for n in CLIMS_VOC_NAMES[1:]}
    good['0'] = ['plane', 'jet']
    path.write_text(json.dumps(good))
    got = pole_candidates('voc', str(path))
    assert got[0] == ['plane', 'jet'] and got[14] == ['player', 'x']
    for bad, msg in [({
            **good, 'spaceship': ['a']
    }, 'spaceship'), ({
            **good, 'bird': []
    }, 'bird'), ({
            **good, 'bird': ['a', 'a']
    }, 'bird'), ({
            k: v
            for k, v in good.items() if k != 'sofa'
    }, 'sofa'), ({
            **good, 'aeroplane': ['a']
    }, 'aeroplane')]:
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=msg) as err:
            load_candidate_file(str(path), CLIMS_VOC_NAMES)
        assert 'cands.json' in str(err.value)
    path.write_text('{not json')
    with pytest.raises(ValueError, match='cands.json'):
        load_candidate_file(str(path), CLIMS_VOC_NAMES)
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_candidate_file(str(tmp_path / 'nope.json'), CLIMS_VOC_NAMES)


def test_prompt_file_reader_and_key_lookup(tmp_path):
    path = tmp_path / 'prompts.json'
    path.write_text(json.dumps({'2007_000032': {'0': 'jet', '14': 'man'}, 'a/01': {'3': 'ship'}}))
    prompts = read_pole_prompts(str(path))
    assert prompts == {'2007_000032': {0: 'jet', 14: 'man'}, 'a/01': {3: 'ship'}}
    assert lookup_image_key('/d/VOC/JPEGImages/2007_000032.jpg', prompts) == '2007_000032'
    assert lookup_image_key('/d/images/a/01.png', prompts) == 'a/01'
    with pytest.raises(KeyError):
        lookup_image_key('/d/images/b/01.png', prompts)
    path.write_text(json.dumps({'x': {'car': 'taxi'}}))
    with pytest.raises(ValueError, match="'x'"):
        read_pole_prompts(str(path))
    path.write_text(json.dumps({'x': ['taxi']}))
    with pytest.raises(ValueError, match='prompts.json'):
        read_pole_prompts(str(path))
    with pytest.raises(FileNotFoundError, match='pole_select_prompts'):
        read_pole_prompts(str(tmp_path / 'missing.json'))


@pytest.mark.skipif(
    __import__('platform').machine() not in ('x86_64', 'AMD64'),
    reason="numpy's out-of-range float -> uint8 cast wraps on x86-64 only")
def test_masked_image_matches_the_official_numpy_expression():
    import numpy as np
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (37, 53, 3)).astype(np.uint8)  # what cv2.imread gives
    cam = rng.random((37, 53)).astype(np.float32)  # IRN's float32 high_res
    # clip_selection.py: (image.T * cam).T * 255.0 cast to uint8
    official = np.array((bgr.transpose(2, 0, 1) * cam).transpose(1, 2, 0) * 255.0, dtype=np.uint8)
    rgb = torch.from_numpy(bgr[..., ::-1].copy()).permute(2, 0, 1)
    ours = pole_masked_image(rgb, torch.from_numpy(cam), bgr=True, uint8_wrap=True)
    assert np.array_equal(ours.permute(1, 2, 0).numpy(), official)
