"""mmwsss.utils.config_utils: the overrides tools/train.py applies to a config."""
import pytest
from mmengine.config import Config

from mmwsss.utils.config_utils import set_pseudo_label_dir

CONF = ('configs/cam/deeplabv3plus-confweight_effnet-lite0_1xb8-300i_'
        'coco-mini-voc-pl-cam-320x320.py')


def test_pseudo_label_dir_moves_the_confidence_maps_with_the_labels():
    """The confidence-weighted stage 2 reads labels AND maps from the label folder; a
    --pseudo-label-dir that moved only the labels would pair them with another run's
    confidence maps without any error."""
    from mmwsss.testing.tools import REPO_ROOT
    cfg = Config.fromfile(f'{REPO_ROOT}/{CONF}')
    assert set_pseudo_label_dir(cfg, '/elsewhere/labels') == 1
    ds = cfg.train_dataloader.dataset
    assert ds.pseudo_label_dir == '/elsewhere/labels'
    loaders = [t for t in ds.pipeline if t['type'] == 'mmwsss.LoadConfidenceMask']
    assert len(loaders) == 1 and loaders[0]['label_dir'] == '/elsewhere/labels'


def test_pseudo_label_dir_on_a_config_without_one_names_it():
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='X', data_root='d'))))
    with pytest.raises(
            KeyError, match="no dataset under train_dataloader has a 'pseudo_label_dir'"):
        set_pseudo_label_dir(cfg, '/l')
