"""Data sample carrying image-level labels next to mmseg's pixel fields."""
import torch
from mmseg.structures import SegDataSample


class WSSSDataSample(SegDataSample):
    """A :class:`SegDataSample` with a typed image-level label.

    Fields (besides mmseg's ``gt_sem_seg``, ``pred_sem_seg``, ``seg_logits``):

    - ``gt_img_label`` (Tensor): multi-hot float tensor of shape (C,) over the
      C *foreground* classes (segmentation index ``k + 1`` is class ``k`` here).
    - metainfo ``img_labels`` (list[int]): the same labels as foreground indices,
      so that prediction paths that only see metainfo (mmseg's decode heads)
      can mask CAMs with them.
    - ``cams`` (PixelData, optional): (C, H, W) CAM scores written at predict.
    """

    @property
    def gt_img_label(self) -> torch.Tensor:
        return self._gt_img_label

    @gt_img_label.setter
    def gt_img_label(self, value: torch.Tensor) -> None:
        if not isinstance(value, torch.Tensor) or value.dim() != 1:
            raise TypeError('gt_img_label must be a 1-D multi-hot tensor, got '
                            f'{type(value).__name__} {getattr(value, "shape", "")}')
        self.set_field(value, '_gt_img_label', dtype=torch.Tensor)

    @gt_img_label.deleter
    def gt_img_label(self) -> None:
        del self._gt_img_label
