"""Class prompts used by CLIP-based WSSS (CLIP-ES, Lin et al. CVPR'23).

Foreground names carry the synonyms CLIP-ES found to work better than the plain
dataset names (one comma-separated string per class, formatted into each template as
is). Background names are the "background class set" that competes with the present
foreground classes in CLIP-ES's softmax.
"""

# The single template of CLIP-ES.
CLIP_ES_TEMPLATES = ['a clean origami {}.']

# PASCAL VOC 2012, 20 foreground classes in dataset order (4 renamed by CLIP-ES:
# bird, chair, person, tvmonitor).
VOC_CLIP_ES_NAMES = [
    'aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat',
    'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes,people,human',
    'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor screen'
]

# 25 background concepts of CLIP-ES for VOC.
VOC_CLIP_ES_BG_NAMES = [
    'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river', 'sea',
    'railway', 'railroad', 'keyboard', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road',
    'rock', 'street', 'valley', 'bridge', 'sign'
]

# MS COCO, 80 foreground classes in the usual contiguous order; 13 renamed by CLIP-ES
# ('sknowboard' is the official spelling, kept because it changes the text embedding).
COCO_CLIP_ES_NAMES = [
    'person with clothes,people,human', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench',
    'bird avian', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe',
    'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie', 'suitcase', 'frisbee', 'skis',
    'sknowboard', 'sports ball', 'kite', 'baseball bat', 'glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'dessertspoon', 'bowl',
    'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut',
    'cake', 'chair seat', 'sofa', 'pottedplant', 'bed', 'diningtable', 'toilet', 'tvmonitor screen',
    'laptop', 'mouse', 'remote control', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster',
    'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hairdrier,blowdrier', 'toothbrush'
]

# 23 background concepts for COCO: the VOC set without 'keyboard' and 'sign'
# (both are, or resemble, COCO foreground classes).
COCO_CLIP_ES_BG_NAMES = [name for name in VOC_CLIP_ES_BG_NAMES if name not in ('keyboard', 'sign')]

__all__ = [
    'CLIP_ES_TEMPLATES', 'VOC_CLIP_ES_NAMES', 'VOC_CLIP_ES_BG_NAMES', 'COCO_CLIP_ES_NAMES',
    'COCO_CLIP_ES_BG_NAMES'
]
