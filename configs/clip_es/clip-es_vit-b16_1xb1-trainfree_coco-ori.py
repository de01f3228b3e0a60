# CLIP-ES on MS-COCO 2014 (80 classes): the VOC recipe with COCO's synonym names,
# the 23-concept background set and box threshold 0.7 (generate_cams_coco14.py).
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    './_base_clip-es_vit-b16.py',
]
model = dict(
    class_names=[
        'person with clothes,people,human', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus',
        'train', 'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter',
        'bench', 'bird avian', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra',
        'giraffe', 'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie', 'suitcase',
        'frisbee', 'skis', 'sknowboard', 'sports ball', 'kite', 'baseball bat', 'glove',
        'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife',
        'dessertspoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
        'hot dog', 'pizza', 'donut', 'cake', 'chair seat', 'sofa', 'pottedplant', 'bed',
        'diningtable', 'toilet', 'tvmonitor screen', 'laptop', 'mouse', 'remote control',
        'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book',
        'clock', 'vase', 'scissors', 'teddy bear', 'hairdrier,blowdrier', 'toothbrush'
    ],
    bg_class_names=[
        'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river',
        'sea', 'railway', 'railroad', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road',
        'rock', 'street', 'valley', 'bridge'
    ],
    box_thr=0.7)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
