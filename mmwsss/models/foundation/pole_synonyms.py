"""Candidate class tokens of POLE (Murugesan et al., WACV'24, "Prompting classes").

POLE picks, per training image and per present class, the word that a frozen CLIP
finds closest to the CAM-masked image among a few candidates for the class, and
trains CLIMS with it. The official candidate lists come from corpora (British
National Corpus, Google News, Wikipedia, Gigaword, GPT); they are not reproduced.

**The lists below are ours** (written for this package, not taken from any
corpus): the CLIMS class name first (so that the plain name can always win),
then three or four synonyms, hyponyms or common photo names of the class. Users
with their own lists pass a JSON file (:func:`load_candidate_file`).

Class order is the dataset's label order with the CLIMS names
(:mod:`.clims_prompts`: 'player' for person, 'dining table', 'tv monitor' ...).

Also here, as data: the fixed per-class prompts of the official release's
default training path (``clip_utils.py``: per-image prompts disabled,
``mode=False``; ``best_sen``), written out with their quirks (no full stop after
'cat', a leading space before 'a photo of tram.').
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from .clims_prompts import CLIMS_COCO_NAMES, CLIMS_VOC_NAMES

#: the selection prompt of ``clip_selection.py`` (capital A, full stop); the chosen
#: prompt is used as is as the class text of training when per-image texts are on.
POLE_TEMPLATE = 'A photo of {}.'

# ours (see the module docstring), VOC label order
POLE_VOC_CANDIDATES: Dict[str, List[str]] = {
    'aeroplane': ['aeroplane', 'airplane', 'aircraft', 'jet', 'airliner'],
    'bicycle': ['bicycle', 'bike', 'cycle', 'mountain bike'],
    'bird': ['bird', 'parrot', 'seagull', 'duck', 'pigeon'],
    'boat': ['boat', 'ship', 'sailboat', 'yacht', 'canoe'],
    'bottle': ['bottle', 'wine bottle', 'water bottle', 'beer bottle'],
    'bus': ['bus', 'coach', 'double-decker bus', 'school bus'],
    'car': ['car', 'automobile', 'sedan', 'taxi'],
    'cat': ['cat', 'kitten', 'tabby cat', 'kitty'],
    'chair': ['chair', 'armchair', 'stool', 'office chair'],
    'cow': ['cow', 'cattle', 'calf', 'bull'],
    'dining table': ['dining table', 'table', 'kitchen table', 'dinner table'],
    'dog': ['dog', 'puppy', 'hound', 'terrier'],
    'horse': ['horse', 'pony', 'foal', 'stallion'],
    'motorbike': ['motorbike', 'motorcycle', 'scooter', 'moped'],
    'player': ['player', 'person', 'man', 'woman', 'child'],
    'potted plant': ['potted plant', 'houseplant', 'plant', 'flowerpot'],
    'sheep': ['sheep', 'lamb', 'ewe', 'flock of sheep'],
    'sofa': ['sofa', 'couch', 'settee', 'loveseat'],
    'train': ['train', 'locomotive', 'tram', 'railway carriage'],
    'tv monitor': ['tv monitor', 'television', 'computer monitor', 'screen'],
}

# ours, COCO label order (CLIMS names); shorter lists (the name + 2-3 alternatives)
POLE_COCO_CANDIDATES: Dict[str, List[str]] = {
    'player': ['player', 'person', 'man', 'woman'],
    'bicycle': ['bicycle', 'bike', 'cycle'],
    'car': ['car', 'automobile', 'sedan'],
    'motorcycle': ['motorcycle', 'motorbike', 'scooter'],
    'airplane': ['airplane', 'aeroplane', 'aircraft', 'jet'],
    'bus': ['bus', 'coach', 'school bus'],
    'train': ['train', 'locomotive', 'tram'],
    'truck': ['truck', 'lorry', 'pickup truck'],
    'boat': ['boat', 'ship', 'sailboat'],
    'traffic light': ['traffic light', 'traffic signal', 'stoplight'],
    'fire hydrant': ['fire hydrant', 'hydrant', 'fireplug'],
    'stop sign': ['stop sign', 'road sign', 'traffic sign'],
    'parking meter': ['parking meter', 'meter', 'pay station'],
    'bench': ['bench', 'park bench', 'seat'],
    'bird': ['bird', 'pigeon', 'seagull'],
    'cat': ['cat', 'kitten', 'kitty'],
    'dog': ['dog', 'puppy', 'hound'],
    'horse': ['horse', 'pony', 'stallion'],
    'sheep': ['sheep', 'lamb', 'ewe'],
    'cow': ['cow', 'cattle', 'calf'],
    'elephant': ['elephant', 'african elephant', 'calf elephant'],
    'bear': ['bear', 'grizzly bear', 'polar bear'],
    'zebra': ['zebra', 'striped horse', 'plains zebra'],
    'giraffe': ['giraffe', 'african giraffe', 'long-necked animal'],
    'backpack': ['backpack', 'rucksack', 'knapsack'],
    'umbrella': ['umbrella', 'parasol', 'sunshade'],
    'handbag': ['handbag', 'purse', 'shoulder bag'],
    'tie': ['tie', 'necktie', 'bow tie'],
    'suitcase': ['suitcase', 'luggage', 'travel bag'],
    'frisbee': ['frisbee', 'flying disc', 'disc'],
    'skis': ['skis', 'ski', 'pair of skis'],
    'snowboard': ['snowboard', 'board', 'snowboarder'],
    'sports ball': ['sports ball', 'ball', 'soccer ball', 'tennis ball'],
    'kite': ['kite', 'flying kite', 'kite in the sky'],
    'baseball bat': ['baseball bat', 'bat', 'softball bat'],
    'baseball glove': ['baseball glove', 'mitt', 'glove'],
    'skateboard': ['skateboard', 'skate', 'longboard'],
    'surfboard': ['surfboard', 'surf board', 'board'],
    'tennis racket': ['tennis racket', 'racket', 'racquet'],
    'bottle': ['bottle', 'wine bottle', 'water bottle'],
    'wine glass': ['wine glass', 'glass', 'goblet'],
    'cup': ['cup', 'mug', 'teacup'],
    'fork': ['fork', 'table fork', 'dinner fork'],
    'knife': ['knife', 'kitchen knife', 'blade'],
    'spoon': ['spoon', 'tablespoon', 'teaspoon'],
    'bowl': ['bowl', 'dish', 'soup bowl'],
    'banana': ['banana', 'bananas', 'bunch of bananas'],
    'apple': ['apple', 'apples', 'red apple'],
    'sandwich': ['sandwich', 'sub', 'burger'],
    'orange': ['orange', 'oranges', 'tangerine'],
    'broccoli': ['broccoli', 'vegetable', 'green vegetable'],
    'carrot': ['carrot', 'carrots', 'root vegetable'],
    'hot dog': ['hot dog', 'sausage', 'frankfurter'],
    'pizza': ['pizza', 'slice of pizza', 'pizza pie'],
    'donut': ['donut', 'doughnut', 'pastry'],
    'cake': ['cake', 'birthday cake', 'dessert'],
    'chair': ['chair', 'armchair', 'stool'],
    'couch': ['couch', 'sofa', 'settee'],
    'potted plant': ['potted plant', 'houseplant', 'plant'],
    'bed': ['bed', 'mattress', 'bunk bed'],
    'dining table': ['dining table', 'table', 'kitchen table'],
    'toilet': ['toilet', 'lavatory', 'toilet bowl'],
    'tv': ['tv', 'television', 'tv screen'],
    'laptop': ['laptop', 'notebook computer', 'computer'],
    'mouse': ['mouse', 'computer mouse', 'wireless mouse'],
    'remote': ['remote', 'remote control', 'tv remote'],
    'keyboard': ['keyboard', 'computer keyboard', 'keypad'],
    'cell phone': ['cell phone', 'mobile phone', 'smartphone'],
    'microwave': ['microwave', 'microwave oven', 'kitchen appliance'],
    'oven': ['oven', 'stove', 'kitchen oven'],
    'toaster': ['toaster', 'toaster oven', 'bread toaster'],
    'sink': ['sink', 'washbasin', 'kitchen sink'],
    'refrigerator': ['refrigerator', 'fridge', 'freezer'],
    'book': ['book', 'books', 'novel'],
    'clock': ['clock', 'wall clock', 'alarm clock'],
    'vase': ['vase', 'flower vase', 'pot'],
    'scissors': ['scissors', 'shears', 'pair of scissors'],
    'teddy bear': ['teddy bear', 'stuffed animal', 'plush toy'],
    'hair drier': ['hair drier', 'hair dryer', 'blow dryer'],
    'toothbrush': ['toothbrush', 'tooth brush', 'electric toothbrush'],
}

#: the release's fixed per-class class texts (``clip_utils.py`` ``best_sen``, VOC order),
#: exactly as written there (data). Which fixed mode the released run used (the plain
#: name, 'best' or one of three synonyms, ``--clims_texts``) is unverified: the
#: ``run_sample.py`` that parses it is missing from the repository.
POLE_RELEASE_BEST_PROMPTS: List[str] = [
    'a photo of airplane.', 'a photo of bicycle.', 'a photo of canary.', 'a photo of ship.',
    'a photo of bottle.', 'a photo of vehicle.', 'a photo of car.', 'a photo of cat',
    'a photo of sofa.', 'a photo of cow.', 'a photo of table.', 'a photo of dog.',
    'a photo of horse.', 'a photo of motorbike.', 'a photo of player.', 'a photo of potted plant.',
    'a photo of sheep.', 'a photo of sofa.', ' a photo of tram.', 'a photo of tv monitor.'
]

POLE_NAMES = dict(voc=CLIMS_VOC_NAMES, coco=CLIMS_COCO_NAMES)
POLE_CANDIDATES = dict(voc=POLE_VOC_CANDIDATES, coco=POLE_COCO_CANDIDATES)


def pole_candidates(dataset: str = 'voc', file: Optional[str] = None) -> List[List[str]]:
    """Candidate tokens per class, in label order: the built-in lists of ``dataset``
    ('voc' | 'coco') or those of a user JSON ``file`` (:func:`load_candidate_file`)."""
    if dataset not in POLE_NAMES:
        raise ValueError(f"dataset must be one of {sorted(POLE_NAMES)}, got {dataset!r}")
    names = POLE_NAMES[dataset]
    if file is not None:
        return load_candidate_file(file, names)
    table = POLE_CANDIDATES[dataset]
    return [list(table[n]) for n in names]


def load_candidate_file(path: str, class_names: Sequence[str]) -> List[List[str]]:
    """Read user candidates: a JSON object ``{class: [token, ...]}`` for EVERY class.

    A class is named by its label index (``"0"``) or by its name in ``class_names``
    (the CLIMS names, e.g. ``"player"``, ``"dining table"``). Each list must hold at
    least one non-empty string, without repeats. Every problem is a ValueError naming
    the file and the key.

    Returns:
        one list of tokens per class, in label order.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'POLE candidate file {path} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'POLE candidate file {path} is not valid JSON: {e}') from e
    if not isinstance(data, dict):
        raise ValueError(f'POLE candidate file {path}: expected a JSON object '
                         f'{{class: [tokens]}}, got {type(data).__name__}')
    index = {n: i for i, n in enumerate(class_names)}
    out: List[Optional[List[str]]] = [None] * len(class_names)
    for key, tokens in data.items():
        if key in index:
            c = index[key]
        elif key.isdigit() and int(key) < len(class_names):
            c = int(key)
        else:
            raise ValueError(f'POLE candidate file {path}: key {key!r} is neither a class '
                             f'name ({", ".join(class_names[:3])}, ...) nor an index '
                             f'0..{len(class_names) - 1}')
        if out[c] is not None:
            raise ValueError(f'POLE candidate file {path}: class {class_names[c]!r} is given '
                             f'twice (key {key!r})')
        if not isinstance(tokens, list) or not tokens or \
                not all(isinstance(t, str) and t.strip() for t in tokens):
            raise ValueError(f'POLE candidate file {path}: key {key!r} must map to a '
                             f'non-empty list of non-empty strings, got {tokens!r}')
        if len(set(tokens)) != len(tokens):
            raise ValueError(f'POLE candidate file {path}: key {key!r} repeats a token '
                             f'({tokens!r})')
        out[c] = list(tokens)
    missing = [class_names[c] for c, v in enumerate(out) if v is None]
    if missing:
        raise ValueError(f'POLE candidate file {path}: no candidates for classes {missing}')
    return out  # type: ignore[return-value]
