"""Class names and palettes of the WSSS label spaces.

Every tuple starts with ``'background'`` (segmentation index 0); foreground class
``k`` of an image-level label vector is segmentation index ``k + 1``.
"""
from typing import Dict, List, Tuple

import numpy as np

VOC_CLASSES: Tuple[str,
                   ...] = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
                           'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
                           'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

# The 80 COCO categories in category-id order (the order of the official
# instances JSON), behind background.
COCO_CLASSES: Tuple[str,
                    ...] = ('background', 'person', 'bicycle', 'car', 'motorcycle', 'airplane',
                            'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
                            'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse',
                            'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack',
                            'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis',
                            'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove',
                            'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass',
                            'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich',
                            'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake',
                            'chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv',
                            'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave',
                            'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
                            'scissors', 'teddy bear', 'hair drier', 'toothbrush')

# COCO category name -> VOC class name, for the 20 COCO categories that are VOC
# classes (the remaining 60 COCO categories are background in the 'voc' space).
COCO_TO_VOC: Dict[str, str] = {
    'airplane': 'aeroplane',
    'bicycle': 'bicycle',
    'bird': 'bird',
    'boat': 'boat',
    'bottle': 'bottle',
    'bus': 'bus',
    'car': 'car',
    'cat': 'cat',
    'chair': 'chair',
    'cow': 'cow',
    'dining table': 'diningtable',
    'dog': 'dog',
    'horse': 'horse',
    'motorcycle': 'motorbike',
    'person': 'person',
    'potted plant': 'pottedplant',
    'sheep': 'sheep',
    'couch': 'sofa',
    'train': 'train',
    'tv': 'tvmonitor'
}


def voc_colormap(num: int = 256) -> List[List[int]]:
    """The PASCAL VOC colour map: the bits of the index spread over R, G, B.

    Index 0 is black, 1 is (128, 0, 0), 255 (ignore) is (224, 224, 192).
    """
    idx = np.arange(num)
    cmap = np.zeros((num, 3), dtype=np.int64)
    for shift in range(8):  # 8 rounds of 3 bits each, most significant first
        for ch in range(3):
            bit = (idx >> (3 * shift + ch)) & 1
            cmap[:, ch] |= bit << (7 - shift)
    return cmap.tolist()


VOC_PALETTE: List[List[int]] = voc_colormap(len(VOC_CLASSES))
COCO_PALETTE: List[List[int]] = voc_colormap(len(COCO_CLASSES))

LABEL_SPACES: Dict[str, Tuple[str, ...]] = dict(voc=VOC_CLASSES, coco=COCO_CLASSES)


def get_label_space(name: str) -> Tuple[Tuple[str, ...], List[List[int]]]:
    """Classes (with background) and palette of label space ``'voc'`` or ``'coco'``."""
    if name not in LABEL_SPACES:
        raise ValueError(f"unknown label space {name!r}: expected one of {sorted(LABEL_SPACES)}")
    classes = LABEL_SPACES[name]
    return classes, voc_colormap(len(classes))
