"""tools/make_prototype_cams.py: settings, class membership, masks from a CAM folder."""
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmwsss.testing import load_tool
from mmwsss.utils.io import atomic_save_npz


@pytest.fixture(scope='module')
def tool():
    return load_tool('tools/make_prototype_cams.py')


def test_settings_defaults_and_unknown_keys(tool):
    voc = tool.prototype_settings(Config(dict(prototype_cfg=dict(dataset='voc'))))
    assert (voc['num_clusters'], voc['select_thres'], voc['images_per_class']) == (12, 0.1, None)
    assert voc['seed'] == 0 and voc['keep_best'] and voc['feat_dtype'] == 'float32'
    coco = tool.prototype_settings(Config(dict(prototype_cfg=dict(dataset='coco', seed=3))))
    assert (coco['num_clusters'], coco['context_thres'], coco['images_per_class'],
            coco['seed']) == (20, 0.5, 100, 3)
    with pytest.raises(KeyError, match='unknown keys .*num_cluster'):
        tool.prototype_settings(Config(dict(prototype_cfg=dict(num_cluster=3))))


def test_class_members(tool):
    labels = np.array([[1, 0], [1, 1], [0, 1]], bool)
    assert tool.class_members(labels, None, 666) == {0: [0, 1], 1: [1, 2]}
    sampled = tool.class_members(labels, 5, 666)
    assert len(sampled[0]) == 5 and set(sampled[0]) <= {0, 1}  # with repeats
    assert set(sampled[1]) <= {1, 2}


def test_masks_from_a_cam_folder(tool, tmp_path):
    atomic_save_npz(
        str(tmp_path / 'a.npz'),
        keys=np.array([4, 1]),
        cams=np.stack([np.full((2, 3), 0.4), np.full((2, 3), 0.1)]).astype(np.float16))

    class Sample:
        img_path = 'JPEGImages/a.jpg'

    cam = tool.mask_from_folder(str(tmp_path), 'a', [1, 4], Sample())
    assert cam.shape == (2, 2, 3) and torch.allclose(
        cam[:, 0, 0], torch.tensor([0.1, 0.4]), atol=1e-3)
    with pytest.raises(ValueError, match=r'a\.npz has no map for classes \[7\]'):
        tool.mask_from_folder(str(tmp_path), 'a', [7], Sample())
    with pytest.raises(FileNotFoundError, match='b.npz'):
        tool.mask_from_folder(str(tmp_path), 'b', [1], Sample())


def test_a_cam_config_without_dump_split_is_refused(tool, tmp_path):
    with pytest.raises(KeyError, match='no prototype_dump_dataloader'):
        tool.main([
            'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py', 'x.pth',
            '--work-dir',
            str(tmp_path), '--steps', 'cluster'
        ])
