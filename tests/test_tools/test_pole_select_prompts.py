"""tools/pole_select_prompts.py pieces: the settings it accepts, the key mapping of a
configs/cam checkpoint onto the CAM branch, and the clean-up of its own temporary files
(the whole tool runs in tests/test_e2e/test_pole.py)."""
import re

import pytest
from mmengine.config import Config

from mmwsss.testing import load_tool

tool = load_tool('tools/pole_select_prompts.py')


def test_selection_settings_defaults_and_unknown_keys():
    cfg = Config(dict(pole_selection=dict(clip=dict(type='OpenCLIP'), bgr=True)))
    got = tool.selection_settings(cfg)
    assert got['bgr'] is True and got['uint8_wrap'] is False
    assert got['template'] == 'A photo of {}.' and got['clip_size'] == 224
    with pytest.raises(KeyError, match='uint8wrap'):
        tool.selection_settings(Config(dict(pole_selection=dict(clip={}, uint8wrap=True))))
    with pytest.raises(KeyError, match='clip'):
        tool.selection_settings(Config(dict(pole_selection=dict())))


class _Model:
    predict_cam_head = 'clims'
    _head_branch = {'clims': 'net'}


def test_cam_checkpoint_keys_map_onto_the_branch():
    rules = tool.cam_revise_keys(_Model())

    def revise(key):
        for pattern, repl in rules:
            key = re.sub(pattern, repl, key)
        return key

    assert revise('backbone.layers.0.conv.weight') == 'branches.net.backbone.layers.0.conv.weight'
    assert revise('decode_head.conv_seg.weight') == 'branches.net.cam_heads.clims.conv_seg.weight'
    assert revise('module.backbone.x') == 'branches.net.backbone.x'
    # a checkpoint of the config itself is left alone
    assert revise('branches.net.backbone.x') == 'branches.net.backbone.x'


def test_only_its_own_temporary_files_are_removed(tmp_path):
    out = tmp_path / 'prompts.json'
    mine = tmp_path / '.prompts.json.123-abcd.tmp'
    other = tmp_path / '.labels.json.123-abcd.tmp'
    mine.write_text('x')
    other.write_text('y')
    assert tool.remove_own_temp_files(str(out)) == 1
    assert not mine.exists() and other.exists()
