"""What the CAM hooks share: the dataloader they read, CAM prediction of a named head."""
import contextlib
import copy
from typing import Iterator, Optional, Sequence, Union

from mmengine.dist import broadcast, get_world_size
from mmengine.model import is_model_wrapper
from torch import nn

#: dataloader names a hook accepts (``<name>_dataloader`` of the config).
LOADER_NAMES = ('pseudo_label', 'test', 'val', 'train')


def resolve_loader_cfg(cfg, dataloader: Union[str, dict], what: str) -> dict:
    """A deep copy of the dataloader config a hook reads.

    Args:
        cfg: the runner's config.
        dataloader: a dataloader dict, or the name of one of the config's
            (``'pseudo_label'`` -> ``cfg.pseudo_label_dataloader``: in WSSS the
            training images with their masks, the seed protocol).
        what: the hook, named in errors.
    """
    if isinstance(dataloader, str):
        if dataloader not in LOADER_NAMES:
            raise ValueError(f'{what}: dataloader must be a dict or one of {LOADER_NAMES}, '
                             f'got {dataloader!r}')
        loader = cfg.get(f'{dataloader}_dataloader', None)
        if not loader:
            raise KeyError(f'{what}: the config has no {dataloader}_dataloader; give '
                           'dataloader=dict(...) or another name')
        dataloader = loader
    if 'dataset' not in dataloader:
        raise KeyError(f'{what}: the dataloader config has no dataset')
    return copy.deepcopy(dict(dataloader))


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def sync_buffers_from_rank0(model: nn.Module) -> None:
    """Give every rank rank 0's buffers (BN running statistics) before a CAM pass.

    DDP broadcasts buffers from rank 0 at the start of each training forward, so after
    the last one every rank has updated its statistics with its own batch; a pass with
    those would score (or label) other weights than the checkpoint, which holds rank
    0's. The next training forward broadcasts rank 0's buffers anyway, so training is
    unchanged. A no-op in a single process.
    """
    if get_world_size() < 2:
        return
    for buf in unwrap(model).buffers():
        broadcast(buf, src=0)


def check_branches(model: nn.Module, branches: Optional[Sequence[str]], what: str) -> None:
    """Named CAM heads must exist (``SingleStageWSSS``: ``test_cfg.cam_head`` names)."""
    if branches is None:
        return
    inner = unwrap(model)
    heads = getattr(inner, '_head_branch', None)
    if heads is None:
        raise ValueError(f'{what}: {type(inner).__name__} has no named CAM heads; '
                         'use branches=None (its own CAM predict path)')
    missing = [b for b in branches if b not in heads]
    if missing:
        raise KeyError(f'{what}: no CAM heads {missing}; the model has {sorted(heads)}')


@contextlib.contextmanager
def cam_prediction(model: nn.Module,
                   head: Optional[str] = None,
                   cam_cfg: Optional[dict] = None,
                   sync: bool = True) -> Iterator[nn.Module]:
    """Eval mode with CAM prediction (of ``head``) for the duration of the block.

    A model with ``predict_source`` (``SingleStageWSSS``) predicts CAMs
    (``'cam'``) whatever its config says for validation, and ``predict_cam_head``
    is set to ``head`` when given; ``cam_cfg`` updates the model's CAM inference
    settings (``model.cam_cfg``: scales, flip, ... of :func:`multi_scale_cams`). All
    of it, and the train / eval mode, is restored afterwards. Other CAM models
    (``CAMClassifier``, CLIP-ES) predict CAMs as they are. With ``sync`` (a
    distributed pass) every rank must enter it: buffers are synchronised from rank
    0; a rank-0-only pass gives ``sync=False`` (rank 0 holds the checkpoint's buffers).
    """
    inner = unwrap(model)
    if sync:
        sync_buffers_from_rank0(model)
    saved = {}
    if cam_cfg:
        if not isinstance(getattr(inner, 'cam_cfg', None), dict):
            raise ValueError(f'{type(inner).__name__} has no cam_cfg (CAM inference '
                             'settings) to override; leave cam_cfg=None')
        saved['cam_cfg'] = inner.cam_cfg
        inner.cam_cfg = {**inner.cam_cfg, **cam_cfg}
    if hasattr(inner, 'predict_source'):
        saved['predict_source'] = inner.predict_source
        inner.predict_source = 'cam'
    if head is not None:
        saved['predict_cam_head'] = inner.predict_cam_head
        inner.predict_cam_head = head
    was_training = model.training
    model.eval()
    try:
        yield inner
    finally:
        for key, value in saved.items():
            setattr(inner, key, value)
        model.train(was_training)
