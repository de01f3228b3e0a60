"""Distributed runs on CPU-only machines (gloo), with mmengine 0.10.7.

mmengine's PyTorch launcher path calls ``torch.cuda.set_device`` and its Runner
wraps the model in DDP with ``device_ids=[LOCAL_RANK]``; both fail without a GPU.
On such machines we initialise the process group with gloo and let DDP run on
CPU (``device_ids=None``). Nothing changes when CUDA is available.
"""
import os

import torch
import torch.distributed as torch_dist


def _init_dist_pytorch_cpu(backend: str = 'gloo', init_backend: str = 'torch', **kwargs) -> None:
    if init_backend != 'torch':
        raise ValueError(f'init_backend={init_backend!r} needs a GPU; CPU runs use torch')
    torch_dist.init_process_group(
        backend='gloo',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)


def setup_cpu_distributed(cfg=None) -> bool:
    """Make the 'pytorch' launcher work on CPU. Returns True if it patched.

    Args:
        cfg: optional mmengine Config; on CPU its ``env_cfg.dist_cfg.backend`` is
            set to 'gloo' and ``model_wrapper_cfg`` to a CPU DDP wrapper.
    """
    if torch.cuda.is_available():
        return False
    import mmengine.dist.utils as dist_utils
    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu
    if cfg is not None:
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.get('model_wrapper_cfg') is None:
            cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
        else:
            cfg.model_wrapper_cfg['device_ids'] = None
    return True
