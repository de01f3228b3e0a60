"""Every config under configs/ parses, its model builds (pretrained weights removed), and its
name follows ``{algorithm}_{backbone}[_{component}...][_{NxbM-schedule}]_{dataset[-crop]}``
(mmwsss/utils/model_zoo.py ``CONFIG_NAME_RE``) with one spelling per backbone."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmwsss  # noqa: F401
from mmwsss.utils import register_all_modules
from mmwsss.utils.model_zoo import backbone_alias_errors, config_base, parse_config_name

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def _strip_pretrained(cfg):
    if isinstance(cfg, dict):
        cfg.pop('pretrained', None)
        for key in ('checkpoint', 'clip_checkpoint'):
            if isinstance(cfg.get(key), str):
                cfg[key] = None  # weights the user supplies: random here
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg.pop('init_cfg')
        for v in list(cfg.values()):
            _strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            _strip_pretrained(v)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_builds_model(path):
    cfg = Config.fromfile(path)
    assert 'model' in cfg, path
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    _strip_pretrained(cfg.model)
    from mmwsss.registry import MODELS
    model = MODELS.build(cfg.model)
    assert model is not None


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_name_scheme(path):
    stem = osp.splitext(osp.basename(path))[0]
    slots = parse_config_name(stem)
    assert slots is not None, (
        f'config name {stem} breaks {{algorithm}}_{{backbone}}_{{NxbM-schedule}}_{{dataset-crop}} '
        '(see CONFIG_NAME_RE in mmwsss/utils/model_zoo.py)')
    assert not backbone_alias_errors(stem), backbone_alias_errors(stem)
    if slots['schedule'] is None:
        # no NxbM-schedule: only a test / label-generation config that post-processes a
        # trained config (it inherits one outside _base_) may omit it
        bases = [b for b in config_base(path) if '_base_' not in b]
        assert bases, f'{stem} has no NxbM-schedule slot and inherits no trained config'


@pytest.mark.parametrize('stem,expected', [
    ('toco_vit-b16_2xb2-20k_voc12aug-448x448',
     dict(
         algorithm='toco',
         backbone='vit-b16',
         gpus='2',
         batch='2',
         schedule='20k',
         dataset='voc12aug',
         crop='448x448',
         pseudo_labels=None)),
    ('deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320',
     dict(
         algorithm='deeplabv3plus',
         backbone='effnet-lite0',
         schedule='300i',
         dataset='coco-mini-voc',
         pseudo_labels='cam',
         crop='320x320')),
    ('sepl_sam-vit-b_1xb1-trainfree_coco-mini-voc-pl-clip-es',
     dict(schedule='trainfree', dataset='coco-mini-voc', pseudo_labels='clip-es', crop=None)),
    ('beco-labels_irn-rw_cam-effnet-lite0_coco-mini-voc',
     dict(
         algorithm='beco-labels',
         backbone='irn-rw',
         components='cam-effnet-lite0',
         schedule=None,
         dataset='coco-mini-voc')),
    ('sm-seeds_resnet38d_1xb8-8e_voc12-train', dict(dataset='voc12', split='train', crop=None)),
    ('deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-gt-320x320',
     dict(gt='gt', pseudo_labels=None, crop='320x320')),
])
def test_parse_config_name(stem, expected):
    slots = parse_config_name(stem)
    assert slots is not None
    for key, value in expected.items():
        assert slots[key] == value, (key, slots)


@pytest.mark.parametrize(
    'stem',
    [
        'toco_vit-b16_2xb2-20k',  # no dataset
        'toco_vit-b16_20k_voc12aug-448x448',  # schedule without NxbM
        'toco_2xb2-20k_voc12aug-448x448',  # no backbone
        'toco_vit-b16_2xb2-20k_imagenet-448x448',  # unknown dataset
        'Toco_vit-b16_2xb2-20k_voc12aug-448x448',  # upper case
        'toco_vit-b16_2xb2-20k_voc12aug-448',  # crop not HxW
    ])
def test_parse_config_name_rejects(stem):
    assert parse_config_name(stem) is None


def test_backbone_aliases():
    assert backbone_alias_errors('irn_efficientnet-lite0_1xb8-300i_coco-mini-voc-320x320')
    assert backbone_alias_errors('carb_effnet-lite0-tinyclip_1xb4-300i_coco-mini-voc-320x320')
    assert not backbone_alias_errors('irn_effnet-lite0_1xb8-300i_coco-mini-voc-320x320')
