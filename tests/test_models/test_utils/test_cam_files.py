"""Reading --save-cams CAM files back as dense per-class tensors (POT's CLIP-ES input)."""
import numpy as np
import pytest
import torch

from mmwsss.models.utils.cam_files import find_cam_file, load_batch_cams, load_dense_cams
from mmwsss.structures import WSSSDataSample
from mmwsss.utils.io import atomic_save_npz


def test_dense_scatter_flip_resize(tmp_path):
    cams = np.array([[[0., 1.], [2., 3.]], [[4., 5.], [6., 7.]]], dtype=np.float16)
    atomic_save_npz(str(tmp_path / 'cams' / 'a' / '01.npz'), keys=np.array([3, 0]), cams=cams)
    img = '/data/JPEGImages/a/01.jpg'
    assert find_cam_file(str(tmp_path), img).endswith('cams/a/01.npz')
    out = load_dense_cams(str(tmp_path), img, 5)
    assert out.shape == (5, 2, 2)
    assert torch.equal(out[3], torch.tensor([[0., 1.], [2., 3.]]))
    assert torch.equal(out[0], torch.tensor([[4., 5.], [6., 7.]]))
    assert out[1].abs().sum() == 0
    flipped = load_dense_cams(str(tmp_path), img, 5, flip=True)
    assert torch.equal(flipped[3], torch.tensor([[1., 0.], [3., 2.]]))
    small = load_dense_cams(str(tmp_path), img, 5, size=(1, 1))
    assert small[3, 0, 0].item() == pytest.approx(1.5)
    s = WSSSDataSample(metainfo=dict(img_path=img, flip=True, flip_direction='horizontal'))
    batch = load_batch_cams(str(tmp_path), [s], 5, (2, 2))
    assert torch.equal(batch[0], flipped)


def test_missing_file_and_bad_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match='x.jpg'):
        load_dense_cams(str(tmp_path), '/d/x.jpg', 3)
    atomic_save_npz(
        str(tmp_path / 'y.npz'), keys=np.array([7]), cams=np.zeros((1, 2, 2), np.float16))
    with pytest.raises(ValueError, match='keys'):
        load_dense_cams(str(tmp_path), '/d/y.jpg', 3)
