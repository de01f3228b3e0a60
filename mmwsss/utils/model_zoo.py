"""The model zoo: metafile schema, config-name scheme and loaders.

Every method folder ``configs/<method>/`` holds a ``metafile.yaml`` in the mmseg
schema and the root ``model-index.yml`` imports them all (what ``mim`` and the
OpenMMLab model-index tools read). One schema for all folders, checked by
``tests/test_configs/test_metafiles.py``::

    Collections:
    - Name: ToCo                       # the method
      License: ...
      Metadata: {Training Data: [..], Supervision: image-level..., Architecture: [..]}
      Paper: {Title: ..., URL: https://... | null}
      README: configs/<method>/README.md
      Code: {URL: https://... | null, Version: <commit read>, Note: ...}   # Version, Note optional
    Models:
    - Name: <config stem>              # unique across the zoo
      In Collection: ToCo
      Config: configs/<method>/<config stem>.py
      Metadata:
        Backbone: ViT-B/16 (IN-21k)
        Crop Size: (448,448) | original | long side 320 | null
        Batch Size: 4                  # total = N x M of the NxbM part of the name
        lr schd: 20000 | 8 epochs | null   # iterations (int) or 'N epochs'; null: training-free
        Supervision: image-level...
        Pseudo Labels: configs/...py   # optional: the config that made the stage-2 labels
        Benchmark: [coco-mini]         # optional: tools/benchmark.py runs this config
      Results:
      - Task: Pseudo Label Generation | Semantic Segmentation
        Dataset: one of DATASETS
        Metrics: {mIoU: 69.2, mIoU (MS+CRF): 71.1}   # 'mIoU' or 'mIoU (<protocol>)': number | null
        Provenance: published | measured   # published: paper / official README / maintainers,
                                           # not reproduced here; measured: in this repository
        Note: where the number comes from
      Weights: <url or path of a published checkpoint>   # optional, only where one exists

'Pseudo Label Generation' is a label-quality number on training images (CAM seeds or
refined masks), 'Semantic Segmentation' the segmenter's mIoU on val / test.
"""
import ast
import glob
import os.path as osp
import re
from typing import Dict, List, Optional

import yaml

TASKS = ('Pseudo Label Generation', 'Semantic Segmentation')
DATASETS = (
    'Pascal VOC 2012 train',
    'Pascal VOC 2012 val',
    'Pascal VOC 2012 test',
    'COCO 2014 train',
    'COCO 2014 val',
    'Cityscapes val',
    'Cityscapes test',
    'BCSS-WSSS test',
    'LUAD-HistoSeg test',
    'CheXpert test',
    'iSAID train',
    'iSAID val',
    'coco-mini train',  # 104 COCO 2017 images in the VOC label space (mmwsss.testing.data)
    'coco-mini val',  # 105 images
)
PROVENANCES = ('published', 'measured')
BENCHMARK_TAGS = ('coco-mini', )
METRIC_RE = re.compile(r'^mIoU( \([^()]+(\([^()]*\))?[^()]*\))?$')
CROP_RE = re.compile(r'^(\(\d+,\d+\)|original|long side \d+)$')
LR_SCHD_RE = re.compile(r'^\d+ epochs$')
URL_RE = re.compile(r'^https?://\S+$')

COLLECTION_KEYS = {'Name', 'License', 'Metadata', 'Paper', 'README', 'Code'}
COLLECTION_OPTIONAL = {'Converted From', 'Frameworks'}
COLLECTION_META_KEYS = {'Training Data', 'Supervision', 'Architecture'}
COLLECTION_META_OPTIONAL = {'Training Resources'}
MODEL_KEYS = {'Name', 'In Collection', 'Config', 'Metadata', 'Results'}
MODEL_OPTIONAL = {'Alias', 'Weights'}
MODEL_META_KEYS = {'Backbone', 'Crop Size', 'Batch Size', 'lr schd', 'Supervision'}
MODEL_META_OPTIONAL = {'Pseudo Labels', 'Benchmark'}
RESULT_KEYS = {'Task', 'Dataset', 'Metrics', 'Provenance'}
RESULT_OPTIONAL = {'Note'}

# ---------------------------------------------------------------------------------------
# config names: {algorithm}_{backbone}[_{component}...][_{NxbM-schedule}]_{dataset[-crop]}
# ---------------------------------------------------------------------------------------
_TOKEN = r'[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*'  # starts with a letter: '20k' is no backbone
# the dataset slot starts with one of these (longest first: 'coco-mini-voc' before 'coco')
CONFIG_DATASETS = ('coco-mini-voc', 'voc12aug', 'voc12', 'coco14', 'coco', 'cityscapes',
                   'bcss-wsss', 'luad-histoseg', 'chexpert5', 'isaid')
CONFIG_NAME_RE = re.compile(
    rf'^(?P<algorithm>{_TOKEN})'
    rf'_(?P<backbone>{_TOKEN})(?P<components>(?:_{_TOKEN})*?)'
    r'(?:_(?P<gpus>\d+)xb(?P<batch>\d+)-(?P<schedule>\d+[kie]|trainfree))?'
    rf'_(?P<dataset>{"|".join(re.escape(d) for d in CONFIG_DATASETS)})'
    # labels of a stage-2 config: -pl-<method> (pseudo labels) or -gt (the ground truth)
    rf'(?:-pl-(?P<pseudo_labels>{_TOKEN}?)|-(?P<gt>gt))?'
    r'(?:-(?P<split>train|val))?'
    r'(?:-(?P<crop>\d+x\d+|ori))?$')
# one backbone, one spelling: the left spelling must not appear in a config name
BACKBONE_ALIASES = {
    'efficientnet-lite0': 'effnet-lite0',
    'efficientnet': 'effnet',
    'tinyclip': 'tiny-clip',
    'resnet50': 'r50',
    'resnet101': 'r101',
    'resnet-38': 'resnet38d',
    'wrn38': 'resnet38d',
    'dinov2-vits14': 'vits14-dinov2',
    'vit-s14': 'vits14',
    'vitb16': 'vit-b16',
    'deitb16': 'deit-b16',
}


def parse_config_name(stem: str) -> Optional[Dict[str, Optional[str]]]:
    """``'toco_vit-b16_2xb2-20k_voc12aug-448x448'`` -> its slots, or None if it breaks the
    scheme. Slots: algorithm, backbone, components, gpus, batch, schedule, dataset,
    pseudo_labels, gt, split, crop (absent ones None)."""
    m = CONFIG_NAME_RE.match(stem)
    if m is None:
        return None
    slots = m.groupdict()
    slots['components'] = slots['components'].lstrip('_') or None
    return slots


def backbone_alias_errors(stem: str) -> List[str]:
    """Spellings in ``stem`` that have a canonical form in :data:`BACKBONE_ALIASES`."""
    tokens = re.split(r'[_]', stem)
    errors = []
    for alias, canonical in BACKBONE_ALIASES.items():
        for tok in tokens:
            if re.search(rf'(^|-){re.escape(alias)}(-|$)', tok):
                errors.append(f'{stem}: {alias!r} is spelled {canonical!r} in config names')
    return errors


def config_base(path: str) -> List[str]:
    """The ``_base_`` entries of a config file, read without executing it."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '_base_' for t in node.targets):
            value = ast.literal_eval(node.value)
            return [value] if isinstance(value, str) else list(value)
    return []


# ---------------------------------------------------------------------------------------
# metafiles
# ---------------------------------------------------------------------------------------
def repo_root() -> str:
    return osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def metafile_paths(root: Optional[str] = None) -> List[str]:
    root = root or repo_root()
    return sorted(glob.glob(osp.join(root, 'configs', '*', 'metafile.yaml')))


def load_metafile(path: str) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def load_model_index(root: Optional[str] = None, index: Optional[str] = None) -> List[dict]:
    """The metafiles named by ``index`` (default ``root/model-index.yml``), in its order,
    each loaded."""
    root = root or repo_root()
    with open(index or osp.join(root, 'model-index.yml')) as f:
        index = yaml.safe_load(f)
    return [load_metafile(osp.join(root, p)) for p in index['Import']]


def benchmark_models(tag: str = 'coco-mini', root: Optional[str] = None) -> List[dict]:
    """Every model whose ``Metadata.Benchmark`` lists ``tag``; tools/benchmark.py runs
    their ``Config``. A new method joins the benchmark by declaring the tag."""
    return [
        model for meta in load_model_index(root) for model in meta['Models']
        if tag in (model['Metadata'].get('Benchmark') or [])
    ]


def _keys(errors: List[str], where: str, obj, required: set, optional: set) -> bool:
    if not isinstance(obj, dict):
        errors.append(f'{where}: expected a mapping, got {type(obj).__name__}')
        return False
    missing = required - set(obj)
    unknown = set(obj) - required - optional
    if missing:
        errors.append(f'{where}: missing {sorted(missing)}')
    if unknown:
        errors.append(f'{where}: unknown keys {sorted(unknown)} (allowed: '
                      f'{sorted(required | optional)})')
    return not missing


def _str(errors, where, value, allow_none=False):
    if value is None and allow_none:
        return
    if not isinstance(value, str) or not value.strip():
        errors.append(f'{where}: expected a non-empty string, got {value!r}')


def _str_list(errors, where, value):
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        errors.append(f'{where}: expected a non-empty list of strings, got {value!r}')


def validate_metafile(meta: dict, root: Optional[str] = None) -> List[str]:
    """All schema violations of one loaded metafile (empty list: valid)."""
    root = root or repo_root()
    errors: List[str] = []
    if not _keys(errors, 'top level', meta, {'Collections', 'Models'}, set()):
        return errors
    names = set()
    for i, coll in enumerate(meta['Collections'] or []):
        where = f'Collections[{i}]'
        if not _keys(errors, where, coll, COLLECTION_KEYS, COLLECTION_OPTIONAL):
            continue
        names.add(coll['Name'])
        where = f'Collection {coll["Name"]!r}'
        _str(errors, f'{where}.Name', coll['Name'])
        _str(errors, f'{where}.License', coll['License'])
        if _keys(errors, f'{where}.Metadata', coll['Metadata'], COLLECTION_META_KEYS,
                 COLLECTION_META_OPTIONAL):
            _str_list(errors, f'{where}.Metadata.Training Data', coll['Metadata']['Training Data'])
            _str_list(errors, f'{where}.Metadata.Architecture', coll['Metadata']['Architecture'])
            sup = coll['Metadata']['Supervision']
            if not (isinstance(sup, str) and sup.startswith('image-level')):
                errors.append(f'{where}.Metadata.Supervision: {sup!r} does not start with '
                              "'image-level'")
        if _keys(errors, f'{where}.Paper', coll['Paper'], {'Title', 'URL'}, set()):
            _str(errors, f'{where}.Paper.Title', coll['Paper']['Title'])
            url = coll['Paper']['URL']
            if url is not None and not (isinstance(url, str) and URL_RE.match(url)):
                errors.append(f'{where}.Paper.URL: {url!r} is not a URL (null if none)')
        readme = coll['README']
        if not (isinstance(readme, str) and osp.isfile(osp.join(root, readme))):
            errors.append(f'{where}.README: {readme!r} does not exist')
        if _keys(errors, f'{where}.Code', coll['Code'], {'URL'}, {'Version', 'Note'}):
            url = coll['Code']['URL']
            if url is None:
                if not coll['Code'].get('Note'):
                    errors.append(f'{where}.Code: URL null needs a Note saying why')
            elif not (isinstance(url, str) and URL_RE.match(url)):
                errors.append(f'{where}.Code.URL: {url!r} is not a URL (null if none)')
            if 'Version' in coll['Code']:
                _str(errors, f'{where}.Code.Version', coll['Code']['Version'])
    if not meta['Collections']:
        errors.append('Collections: empty')
    if not meta['Models']:
        errors.append('Models: empty')
    for i, model in enumerate(meta['Models'] or []):
        where = f'Models[{i}]'
        if not _keys(errors, where, model, MODEL_KEYS, MODEL_OPTIONAL):
            continue
        where = f'Model {model["Name"]!r}'
        if model['In Collection'] not in names:
            errors.append(f'{where}: In Collection {model["In Collection"]!r} is not a '
                          f'Collection of this metafile ({sorted(names)})')
        cfg = model['Config']
        if not (isinstance(cfg, str) and osp.isfile(osp.join(root, cfg))):
            errors.append(f'{where}: Config {cfg!r} does not exist')
        elif osp.splitext(osp.basename(cfg))[0] != model['Name']:
            errors.append(f'{where}: Name is not the config file name {cfg}')
        if 'Weights' in model:
            _str(errors, f'{where}.Weights', model['Weights'])
        if 'Alias' in model:
            _str_list(errors, f'{where}.Alias', model['Alias'])
        md = model['Metadata']
        if _keys(errors, f'{where}.Metadata', md, MODEL_META_KEYS, MODEL_META_OPTIONAL):
            _str(errors, f'{where}.Metadata.Backbone', md['Backbone'])
            crop = md['Crop Size']
            if crop is not None and not (isinstance(crop, str) and CROP_RE.match(crop)):
                errors.append(f'{where}.Metadata.Crop Size: {crop!r} is not "(H,W)", '
                              '"original", "long side N" or null')
            bs = md['Batch Size']
            if bs is not None and not (isinstance(bs, int) and bs > 0):
                errors.append(f'{where}.Metadata.Batch Size: {bs!r} is not a positive int')
            lr = md['lr schd']
            if lr is not None and not ((isinstance(lr, int) and lr > 0) or
                                       (isinstance(lr, str) and LR_SCHD_RE.match(lr))):
                errors.append(f'{where}.Metadata.lr schd: {lr!r} is not iterations (int), '
                              '"N epochs" or null')
            sup = md['Supervision']
            if not (isinstance(sup, str) and sup.startswith('image-level')):
                errors.append(f'{where}.Metadata.Supervision: {sup!r} does not start with '
                              "'image-level'")
            pl = md.get('Pseudo Labels')
            if pl is not None and not osp.isfile(osp.join(root, str(pl))):
                errors.append(f'{where}.Metadata.Pseudo Labels: {pl!r} does not exist')
            if 'Benchmark' in md:
                tags = md['Benchmark']
                if not (isinstance(tags, list) and tags and set(tags) <= set(BENCHMARK_TAGS)):
                    errors.append(f'{where}.Metadata.Benchmark: {tags!r} is not a list of '
                                  f'{BENCHMARK_TAGS}')
        results = model['Results']
        if not isinstance(results, list) or not results:
            errors.append(f'{where}.Results: expected a non-empty list (a null metric row '
                          'when no number is known)')
            continue
        for j, res in enumerate(results):
            rw = f'{where}.Results[{j}]'
            if not _keys(errors, rw, res, RESULT_KEYS, RESULT_OPTIONAL):
                continue
            if res['Task'] not in TASKS:
                errors.append(f'{rw}.Task: {res["Task"]!r} not in {TASKS}')
            if res['Dataset'] not in DATASETS:
                errors.append(f'{rw}.Dataset: {res["Dataset"]!r} not in {DATASETS}')
            if res['Provenance'] not in PROVENANCES:
                errors.append(f'{rw}.Provenance: {res["Provenance"]!r} not in {PROVENANCES}')
            metrics = res['Metrics']
            if (res['Provenance'] == 'measured' and not res['Dataset'].startswith('coco-mini')
                    and isinstance(metrics, dict) and any(v is not None for v in metrics.values())):
                # a guard against published numbers filed as ours: only coco-mini runs
                # exist so far (no GPU); a pending (null) row for a later run is fine
                errors.append(f'{rw}: a number measured here on {res["Dataset"]!r}? Only '
                              'coco-mini rows are measured in this repository so far')
            if 'Note' in res:
                _str(errors, f'{rw}.Note', res['Note'])
            metrics = res['Metrics']
            if not isinstance(metrics, dict) or not metrics:
                errors.append(f'{rw}.Metrics: expected a non-empty mapping')
                continue
            for key, value in metrics.items():
                if not (isinstance(key, str) and METRIC_RE.match(key)):
                    errors.append(f'{rw}.Metrics: {key!r} is not "mIoU" or "mIoU (<protocol>)"')
                if value is not None and (isinstance(value, bool)
                                          or not isinstance(value,
                                                            (int, float)) or not 0 <= value <= 100):
                    errors.append(f'{rw}.Metrics.{key}: {value!r} is not a number in [0, 100] '
                                  'or null')
    return errors
