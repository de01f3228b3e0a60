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

# Named maps for configs: ``class_map='voc'``.
IMAGENET_CLASS_MAPS: Dict[str, Dict[str, List[int]]] = dict(voc=VOC_TO_IMAGENET)
