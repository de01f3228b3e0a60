"""Refiners for CAMs with a learned bg channel (SIPE's cam2ir.py / make_seg_labels.py)."""
import pytest
import torch

from mmwsss.models.refiners.bg_channel import (BackgroundFromMeta, BGChannelIRLabel,
                                               BGChannelRandomWalk, bg_scaled_label)


def _state():
    cams = torch.tensor([[[0.9, 0.4], [0.3, 0.0]], [[0.0, 0.0], [0.0, 0.8]]])[None]
    bg = torch.tensor([[0.1, 0.6], [0.5, 0.2]])
    return dict(
        cams=cams,
        img_labels=torch.tensor([[1., 0.]]),
        meta=[dict(bg_cam=bg)],
        img=torch.zeros(1, 3, 2, 2, dtype=torch.uint8))


def test_background_from_meta_argmax():
    out = BackgroundFromMeta()(_state())
    assert out['scores'].shape == (1, 3, 2, 2)
    # class 2 is absent: pixel (1, 1) goes to bg 0.2 vs class 1's 0.0
    assert out['label'][0].tolist() == [[1, 0], [0, 0]]
    with pytest.raises(KeyError, match='bg_cam'):
        BackgroundFromMeta()(dict(_state(), meta=[{}]))


def test_bg_scaled_label_and_ir_combination():
    scores = BackgroundFromMeta()(_state())['scores']
    # bg x 0.5: (0, 1) 0.3 < 0.4 -> fg; (1, 0) 0.25 < 0.3 -> fg; (1, 1) 0.1 > 0 -> bg
    assert bg_scaled_label(scores, torch.tensor([[1., 0.]]), 0.5)[0].tolist() == [[1, 1], [1, 0]]
    state = BackgroundFromMeta()(_state())
    out = BGChannelIRLabel(crf=None)(state)
    # fg_conf [[1, 0], [0, 0]], bg_conf [[1, 1], [1, 0]]: 255 where fg_conf is bg and
    # bg_conf fg, 0 where both bg
    assert out['label'][0].tolist() == [[1, 255], [255, 0]]


def test_bg_channel_random_walk_without_boundary_is_argmax():
    state = BackgroundFromMeta()(_state())
    # no boundary (all 0) and zero steps: the walk is the identity up to the resizes
    state['boundary'] = torch.zeros(1, 1, 1, 1)
    rw = BGChannelRandomWalk(model=None, exp_times=0, radius=2, stride=4)
    out = rw(state)
    assert out['scores'].shape == (1, 3, 2, 2)
    assert out['scores'].max() == pytest.approx(1.0)
    assert out['scores'][0, 2].abs().sum() == 0  # absent class
