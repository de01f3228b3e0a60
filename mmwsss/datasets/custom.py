"""A folder of images plus a CSV/JSON of image-level labels."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import mmengine.fileio as fileio

from mmwsss.registry import DATASETS
from .base import WSSSBaseDataset
from .class_names import voc_colormap
from .label_io import read_classes_file, read_split_file


@DATASETS.register_module()
class WSSSCustomDataset(WSSSBaseDataset):
    """Your own images with image-level labels::

        data_root/
          images/cat_01.jpg ...          (img_dir, any sub-folders)
          labels.csv  or  labels.json    (label_file)
          classes.txt                    (optional, one foreground class per line)
          masks/cat_01.png ...           (optional, for evaluation only)

    ``labels.csv``::

        image,labels
        cat_01.jpg,cat
        street/02.jpg,person;traffic light
        beach.jpg,person dog

    The ``image`` column is the image path relative to the image folder, with
    its extension; ``labels`` are class names separated by ``;`` (needed when a
    name has a space) or by whitespace; an empty field means background only.
    ``labels.json`` is ``{"cat_01.jpg": ["cat"], ...}`` (names or foreground
    indices). The label file defines the samples, in its order;
    ``ann_file`` (one image path per line) may restrict them to a split. A
    mask is ``<image path without extension><seg_map_suffix>`` in the mask folder.

    Without a label file, every ``img_suffix`` image under the image folder is a
    sample and labels are derived from the masks (then required).

    Images are told apart by their path under the image folder: ``a/01.jpg`` and
    ``b/01.jpg`` are two samples with two masks and two pseudo labels (``a/01.png``,
    ``b/01.png``); two keys that differ only by extension are refused.

    Classes come from ``metainfo=dict(classes=(...))`` or ``classes_file``;
    ``'background'`` is put first when missing. Default palette: VOC colours.

    Args:
        label_file (str, optional): CSV or JSON image labels.
        classes_file (str, optional): class list, used without ``metainfo.classes``.
        img_suffix (str): image suffix when listing the image folder.
        **kwargs: see :class:`WSSSBaseDataset`.
    """
    METAINFO = dict()

    def __init__(self,
                 ann_file: str = '',
                 label_file: Optional[str] = None,
                 classes_file: Optional[str] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png',
                 data_prefix: dict = dict(img_path='images', seg_map_path=None),
                 data_root: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        metainfo = dict(metainfo or {})
        if metainfo.get('classes') is None:
            if classes_file is None:
                raise ValueError('WSSSCustomDataset needs metainfo=dict(classes=(...)) or '
                                 'classes_file')
            if data_root and not osp.isabs(classes_file):
                classes_file = osp.join(data_root, classes_file)
            metainfo['classes'] = read_classes_file(classes_file)
        classes, palette = self._with_background(metainfo['classes'], metainfo.get('palette'))
        metainfo.update(classes=classes, palette=palette)
        super().__init__(
            ann_file=ann_file,
            label_file=label_file,
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            data_prefix=data_prefix,
            data_root=data_root,
            metainfo=metainfo,
            **kwargs)

    @staticmethod
    def _with_background(classes: Sequence[str], palette: Optional[Sequence]) -> Tuple[tuple, list]:
        classes = list(classes)
        if len(set(classes)) != len(classes):
            raise ValueError(f'duplicated class names in {classes}')
        if 'background' in classes[1:]:
            raise ValueError(f"'background' must be the first class, got {classes}")
        added = classes[:1] != ['background']
        if added:
            classes = ['background'] + classes
        if palette is None:
            palette = voc_colormap(len(classes))
        else:
            palette = [list(c) for c in palette]
            if added and len(palette) == len(classes) - 1:
                palette = [[0, 0, 0]] + palette
            if len(palette) != len(classes):
                raise ValueError(f'palette has {len(palette)} colours for {len(classes)} '
                                 'classes (background included)')
        return tuple(classes), palette

    def list_samples(self) -> List[Tuple[str, str, Optional[str]]]:
        """(image key, image path, mask path or None); the key is the image's
        path relative to the image folder, with extension."""
        if self.label_file:
            keys = list(self._labels().keys())
            if self.ann_file:
                split = read_split_file(self.ann_file)
                unknown = [k for k in split if k not in self._labels()]
                if unknown:
                    raise KeyError(f'{len(unknown)} image(s) of {self.ann_file} have no entry '
                                   f'in {self.label_file}: {unknown[:10]}')
                keys = split
        elif self.ann_file:
            keys = read_split_file(self.ann_file)
        else:
            if not osp.isdir(self.img_dir):
                raise FileNotFoundError(f'image folder not found: {self.img_dir}')
            keys = sorted(
                fileio.list_dir_or_file(
                    self.img_dir, list_dir=False, suffix=self.img_suffix, recursive=True))
        # 'x.jpg' and 'x.png' would share the mask x.png and every output named x
        first = {}
        for k in keys:
            base = osp.splitext(k)[0]
            if base in first:
                where = self.label_file or self.ann_file or self.img_dir
                raise ValueError(f'images {first[base]} and {k} of {where} differ only by '
                                 'their extension: they would share a mask and every output '
                                 'file; rename one of them')
            first[base] = k
        mask_dir = self.mask_dir
        return [(k, osp.join(self.img_dir, k),
                 osp.join(mask_dir,
                          osp.splitext(k)[0] + self.seg_map_suffix) if mask_dir else None)
                for k in keys]

    def _labels(self) -> dict:
        # parsed once: list_samples and load_labels both need it
        if getattr(self, '_label_cache', None) is None:
            self._label_cache = super().load_labels()
        return self._label_cache

    def load_labels(self) -> Optional[dict]:
        labels = self._labels() if self.label_file else None
        self._label_cache = None  # not kept: data_list holds the vectors
        return labels
