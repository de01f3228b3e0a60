"""WSSS class names -> ImageNet-1k class indices, for initialising CAM heads.

ImageNet-1k indices in the standard order (0 = tench ... 999 = toilet tissue),
the order of every ImageNet-1k classifier (torchvision, timm, TF EfficientNet).
Each WSSS class lists the ImageNet classes that name the same kind of object;
the names are given next to the indices so that the lists can be checked by eye.
A class with no ImageNet counterpart is absent (its classifier row keeps its
ordinary random initialisation). 'person' has no ImageNet class of its own; the
three people classes (ballplayer, groom, scuba diver) are a weak proxy.
"""
from typing import Dict, List


def _span(first: int, last: int) -> List[int]:
    return list(range(first, last + 1))


VOC_TO_IMAGENET: Dict[str, List[int]] = {
    'aeroplane': [404, 895],  # airliner, warplane
    'bicycle': [444, 671],  # bicycle-built-for-two, mountain bike
    # cock .. great grey owl, black grouse .. black swan, white stork .. albatross
    'bird': _span(7, 24) + _span(80, 100) + _span(127, 146),
    # canoe, catamaran, fireboat, gondola, lifeboat, liner, pirate ship, schooner,
    # speedboat, submarine, trimaran, yawl, container ship
    'boat': [472, 484, 554, 576, 625, 628, 724, 780, 814, 833, 871, 914, 510],
    # beer bottle, pill bottle, pop bottle, water bottle, wine bottle
    'bottle': [440, 720, 737, 898, 907],
    'bus': [779, 874, 654],  # school bus, trolleybus, minibus
    # ambulance, beach wagon, cab, convertible, jeep, limousine, minivan, Model T,
    # pickup, racer, sports car
    'car': [407, 436, 468, 511, 609, 627, 656, 661, 717, 751, 817],
    'cat': _span(281, 285),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    'chair': [423, 559, 765, 857],  # barber chair, folding chair, rocking chair, throne
    'cow': [345, 346, 347],  # ox, water buffalo, bison
    'diningtable': [532],  # dining table
    'dog': _span(151, 268),  # Chihuahua .. Mexican hairless (the 118 breeds)
    'horse': [339, 603],  # sorrel, horse cart
    'motorbike': [665, 670],  # moped, motor scooter
    'person': [981, 982, 983],  # ballplayer, groom, scuba diver
    'pottedplant': [738],  # pot (flowerpot)
    'sheep': [348, 349],  # ram, bighorn
    'sofa': [831],  # studio couch
    # bullet train, electric locomotive, freight car, passenger car,
    # steam locomotive, streetcar
    'train': [466, 547, 565, 705, 820, 829],
    'tvmonitor': [851, 664, 782],  # television, monitor, screen
}

# The 80 COCO categories (COCO_CLASSES names). The 20 VOC categories reuse the VOC
# lists, except that pickup goes to 'truck' (COCO labels pickups as trucks). Absent,
# with no ImageNet class of their own: fire hydrant, giraffe, suitcase, frisbee,
# snowboard, kite (ImageNet 'kite' is the bird), baseball bat, baseball glove,
# skateboard, surfboard, fork, knife, sandwich, carrot, donut, cake, oven, scissors,
# hair drier, toothbrush.
COCO_TO_IMAGENET: Dict[str, List[int]] = {
    'person': VOC_TO_IMAGENET['person'],
    'bicycle': VOC_TO_IMAGENET['bicycle'],
    'car': [c for c in VOC_TO_IMAGENET['car'] if c != 717],
    'motorcycle': VOC_TO_IMAGENET['motorbike'],
    'airplane': VOC_TO_IMAGENET['aeroplane'],
    'bus': VOC_TO_IMAGENET['bus'],
    'train': VOC_TO_IMAGENET['train'],
    # garbage truck, tow truck, trailer truck, fire engine, moving van, police van, pickup
    'truck': [569, 864, 867, 555, 675, 734, 717],
    'boat': VOC_TO_IMAGENET['boat'],
    'traffic light': [920],
    'stop sign': [919],  # street sign
    'parking meter': [704],
    'bench': [703],  # park bench
    'bird': VOC_TO_IMAGENET['bird'],
    'cat': VOC_TO_IMAGENET['cat'],
    'dog': VOC_TO_IMAGENET['dog'],
    'horse': VOC_TO_IMAGENET['horse'],
    'sheep': VOC_TO_IMAGENET['sheep'],
    'cow': VOC_TO_IMAGENET['cow'],
    'elephant': [101, 385, 386],  # tusker, Indian elephant, African elephant
    'bear': _span(294, 297),  # brown, American black, ice, sloth bear
    'zebra': [340],
    'backpack': [414],
    'umbrella': [879],
    'handbag': [748],  # purse
    'tie': [906, 457, 451],  # Windsor tie, bow tie, bolo tie
    'skis': [795],  # ski
    # baseball, basketball, croquet ball, golf ball, ping-pong ball, rugby ball,
    # soccer ball, tennis ball
    'sports ball': [429, 430, 522, 574, 722, 768, 805, 852],
    'tennis racket': [752],  # racket
    'bottle': VOC_TO_IMAGENET['bottle'],
    'wine glass': [572],  # goblet
    'cup': [968, 504],  # cup, coffee mug
    'spoon': [910],  # wooden spoon
    'bowl': [659, 809],  # mixing bowl, soup bowl
    'banana': [954],
    'apple': [948],  # Granny Smith
    'orange': [950],
    'broccoli': [937],
    'hot dog': [934],  # hotdog
    'pizza': [963],
    'chair': VOC_TO_IMAGENET['chair'],
    'couch': VOC_TO_IMAGENET['sofa'],
    'potted plant': VOC_TO_IMAGENET['pottedplant'],
    'bed': [564],  # four-poster
    'dining table': VOC_TO_IMAGENET['diningtable'],
    'toilet': [861],  # toilet seat
    'tv': VOC_TO_IMAGENET['tvmonitor'],
    'laptop': [620, 681],  # laptop, notebook
    'mouse': [673],
    'remote': [761],  # remote control
    'keyboard': [508],  # computer keyboard
    'cell phone': [487],  # cellular telephone
    'microwave': [651],
    'toaster': [859],
    'sink': [896],  # washbasin
    'refrigerator': [760],
    'book': [917, 921],  # comic book, book jacket
    'clock': [409, 530, 892],  # analog, digital, wall clock
    'vase': [883],
    'teddy bear': [850],  # teddy
}

# Named maps for configs: ``class_map='voc'`` or ``'coco'``.
IMAGENET_CLASS_MAPS: Dict[str, Dict[str, List[int]]] = dict(
    voc=VOC_TO_IMAGENET, coco=COCO_TO_IMAGENET)
