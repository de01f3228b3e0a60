"""Text prompts of CLIMS (Xie et al., CVPR'22), per dataset and code version.

Two versions exist in the official repository (CVI-SZU/CLIMS):

* ``'root'``: the improved version at the repository root (``clip_utils.py``):
  ``'a photo of {}.'`` (with a full stop), VOC names with spaces and ``'player'``
  for person (COCO too), and ONE list of co-occurring background prompts per
  dataset, matched against every foreground image under a threshold.
* ``'camera_ready'``: ``previous_version/clip_utils.py``: ``'a photo of {}'``
  (no full stop), the raw VOC names (``'diningtable'``, ``'person'``), and
  co-occurring background prompts for two classes only (boat, train); the class
  texts of sofa, dining table and chair are weighted 3 in the object/background
  text losses (``cal_weights``).

The lists are written out here (data, no code of the repository); the order of
the class names is the dataset's label order (VOC 20 / COCO 80 foreground classes).
"""
from typing import Dict, List

CLIMS_TEMPLATE = 'a photo of {}.'
CLIMS_CR_TEMPLATE = 'a photo of {}'

CLIMS_VOC_NAMES: List[str] = [
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'dining table', 'dog', 'horse', 'motorbike', 'player', 'potted plant', 'sheep', 'sofa', 'train',
    'tv monitor'
]
CLIMS_COCO_NAMES: List[str] = [
    'player', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush'
]
# co-occurring background words of the root version (prompt: CLIMS_TEMPLATE)
CLIMS_VOC_BG_WORDS: List[str] = [
    'tree', 'river', 'sea', 'lake', 'water', 'railway', 'railroad', 'track', 'stone', 'rocks'
]
CLIMS_COCO_BG_WORDS: List[str] = [
    'street sign', 'mountain', 'video game', 'men', 'track', 'bus stop', 'cabinet', 'tray', 'plate',
    'shirt', 'city street', 'runway', 'tower', 'ramp', 'grass', 'pillow', 'urinal', 'lake', 'brick',
    'fence', 'shower', 'airport', 'animal', 'shower curtain', 'road', 'mirror', 'jacket', 'church',
    'snow', 'fruit', 'hay', 'floor', 'field', 'street', 'mouth', 'steam engine', 'cheese', 'river',
    'tree branch', 'suit', 'child', 'soup', 'desk', 'tub', 'tennis court', 'teeth', 'bridge', 'sky',
    'officer', 'sidewalk', 'dock', 'tree', 'court', 'rock', 'board', 'branch', 'pan', 'box', 'body',
    'salad', 'dirt', 'leaf', 'hand', 'highway', 'vegetable', 'computer monitor', 'door', 'meat',
    'pair', 'beach', 'harbor', 'ocean', 'baseball player', 'girl', 'market', 'window', 'blanket',
    'boy', 'woman', 'bat', 'baby', 'flower', 'wall', 'bath tub', 'tarmac', 'tennis ball', 'roll',
    'park'
]

# camera-ready version (VOC only)
CLIMS_CR_VOC_NAMES: List[str] = [
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
    'tvmonitor'
]
# per-class co-occurring background words (prompt: CLIMS_CR_TEMPLATE)
CLIMS_CR_VOC_BG_WORDS: Dict[str, List[str]] = {
    'boat': ['river', 'water', 'lake', 'sea', 'building'],
    'train': ['railroad', 'railway', 'branches', 'tree'],
}
# object/background text-loss weight 3 for these classes (``cal_weights``)
CLIMS_CR_VOC_WEIGHT3: List[str] = ['sofa', 'diningtable', 'chair']

CLIMS_NAMES = dict(voc=CLIMS_VOC_NAMES, coco=CLIMS_COCO_NAMES)
CLIMS_BG_WORDS = dict(voc=CLIMS_VOC_BG_WORDS, coco=CLIMS_COCO_BG_WORDS)


def clims_class_prompts(dataset: str, version: str = 'root') -> List[str]:
    """One prompt per foreground class, in label order."""
    if version == 'root':
        return [CLIMS_TEMPLATE.format(n) for n in CLIMS_NAMES[dataset]]
    if version == 'camera_ready':
        if dataset != 'voc':
            raise ValueError("CLIMS camera-ready prompts exist for 'voc' only")
        return [CLIMS_CR_TEMPLATE.format(n) for n in CLIMS_CR_VOC_NAMES]
    raise ValueError(f"version must be 'root' or 'camera_ready', got {version!r}")


def clims_bg_prompts(dataset: str) -> List[str]:
    """The root version's co-occurring background prompts of ``dataset``."""
    return [CLIMS_TEMPLATE.format(w) for w in CLIMS_BG_WORDS[dataset]]


def clims_cr_bg_prompts() -> Dict[int, List[str]]:
    """Camera-ready: ``{VOC class index: its background prompts}``."""
    return {
        CLIMS_CR_VOC_NAMES.index(c): [CLIMS_CR_TEMPLATE.format(w) for w in words]
        for c, words in CLIMS_CR_VOC_BG_WORDS.items()
    }


def clims_cr_class_weights() -> List[float]:
    """Camera-ready: per-class weight of the object/background text losses (3 or 1)."""
    return [3.0 if n in CLIMS_CR_VOC_WEIGHT3 else 1.0 for n in CLIMS_CR_VOC_NAMES]
