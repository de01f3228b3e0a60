"""Convert official ResNet-38 weights (PSA / SEAM / CPN) to ``ResNet38d`` key names.

    python tools/model_converters/resnet38.py SRC DST

SRC may be
* a PyTorch state dict of the official ``network/resnet38d.py`` ``Net`` (or of a model built on
  it: PSA ``res38_cls.pth``, SEAM ``resnet38_SEAM.pth``, CPN's checkpoints; a ``'module.'``
  prefix from DataParallel and a ``'state_dict'`` wrapper are accepted). Only the backbone
  keys are converted; the method's own layers (fc8, f8_3, f9, ...) are dropped and listed.
* the MXNet ImageNet weights ``ilsvrc-cls_rna-a1_cls1000_ep-0001.params`` (``.params``
  extension). They are read WITHOUT mxnet by a small parser of MXNet's NDArray-list file format
  (legacy, V1 and V2 dense arrays). The parser was checked only on files written by our own
  test writer, not on the real file (it is not available here): if it refuses the file, convert
  it with the official ``convert_mxnet_to_torch`` (needs mxnet), ``torch.save`` that dict, and
  pass the ``.pth`` here.

DST is ``{'state_dict': ResNet38d keys, 'meta': {...}}``, for
``backbone=dict(type='ResNet38d', init_cfg=dict(type='Pretrained', checkpoint=DST))``.

Official -> ours: ``conv1a`` -> ``conv1a``; ``b{s}`` / ``b{s}_{i}`` -> ``res{s}.0`` /
``res{s}.{i}`` (s = 2..5), ``b6`` / ``b7`` -> ``res6`` / ``res7``; inside a block
``bn_branch2a, conv_branch2a, bn_branch2b1, conv_branch2b1, bn_branch2b2, conv_branch2b2,
conv_branch1`` -> ``bn1, conv1, bn2, conv2, bn3, conv3, shortcut``; ``bn7`` -> ``bn7``.
"""
import argparse
import re
import struct
import sys
from typing import Dict, List, Tuple

import numpy as np
import torch

LAYER_MAP = {
    'bn_branch2a': 'bn1',
    'conv_branch2a': 'conv1',
    'bn_branch2b1': 'bn2',
    'conv_branch2b1': 'conv2',
    'bn_branch2b2': 'bn3',
    'conv_branch2b2': 'conv3',
    'conv_branch1': 'shortcut',
}
BN_PARAMS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
_BLOCK = re.compile(r'^b(\d)(?:_(\d+))?$')


def official_to_ours(name: str) -> str:
    """One official ``resnet38d.Net`` key -> ours; ``''`` when it is not a backbone key."""
    parts = name.split('.')
    if parts[0] == 'conv1a' and parts[1:] == ['weight']:
        return name
    if parts[0] == 'bn7' and len(parts) == 2 and parts[1] in BN_PARAMS:
        return name
    m = _BLOCK.match(parts[0])
    if m is None or len(parts) != 3 or parts[1] not in LAYER_MAP:
        return ''
    stage, idx = int(m.group(1)), int(m.group(2) or 0)
    if stage in (6, 7):
        if idx:
            return ''
        return f'res{stage}.{LAYER_MAP[parts[1]]}.{parts[2]}'
    return f'res{stage}.{idx}.{LAYER_MAP[parts[1]]}.{parts[2]}'


def convert_state_dict(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Official PyTorch state dict -> (ResNet38d state dict, dropped keys).

    BN ``num_batches_tracked`` buffers missing in old checkpoints are added as 0, so loading
    reports no missing keys (frozen BN never reads them).
    """
    if 'state_dict' in state and isinstance(state['state_dict'], dict):
        state = state['state_dict']
    out, dropped = {}, []
    for key, value in state.items():
        name = key[len('module.'):] if key.startswith('module.') else key
        new = official_to_ours(name)
        if new:
            out[new] = value
        else:
            dropped.append(key)
    for key in list(out):
        if key.endswith('.running_mean'):
            nbt = key[:-len('running_mean')] + 'num_batches_tracked'
            out.setdefault(nbt, torch.tensor(0, dtype=torch.long))
    return out, dropped


# ------------------------------------------------------------------ MXNet .params
_MX_LIST_MAGIC = 0x112
_MX_V1_MAGIC = 0xF993FAC8
_MX_V2_MAGIC = 0xF993FAC9
_MX_DTYPES = {
    0: np.float32,
    1: np.float64,
    2: np.float16,
    3: np.uint8,
    4: np.int32,
    5: np.int8,
    6: np.int64
}


class _Reader:

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError('MXNet .params file ends early')
        vals = struct.unpack_from('<' + fmt, self.data, self.pos)
        self.pos += size
        return vals if len(vals) > 1 else vals[0]

    def raw(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError('MXNet .params file ends early')
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def _read_ndarray(r: _Reader) -> np.ndarray:
    magic = r.read('I')
    if magic == _MX_V2_MAGIC:
        stype = r.read('i')
        if stype != 0:
            raise ValueError(f'sparse NDArray (storage type {stype}) is not supported')
    if magic in (_MX_V1_MAGIC, _MX_V2_MAGIC):
        ndim = r.read('I')
        shape = tuple(r.read('q') for _ in range(ndim))
    else:  # legacy: the first word IS ndim, dims are uint32
        ndim = magic
        if ndim > 32:
            raise ValueError(f'not an MXNet NDArray (magic/ndim {magic:#x})')
        shape = tuple(r.read('I') for _ in range(ndim))
    if ndim == 0:
        return np.zeros((0, ), np.float32)
    r.read('ii')  # context: dev_type, dev_id
    type_flag = r.read('i')
    if type_flag not in _MX_DTYPES:
        raise ValueError(f'unknown MXNet dtype flag {type_flag}')
    dtype = np.dtype(_MX_DTYPES[type_flag]).newbyteorder('<')
    count = int(np.prod(shape))
    arr = np.frombuffer(r.raw(count * dtype.itemsize), dtype=dtype).reshape(shape)
    return arr.astype(dtype.newbyteorder('='))


def load_mxnet_params(path: str) -> Dict[str, np.ndarray]:
    """Read an MXNet ``nd.save`` file (a named list of dense NDArrays) without mxnet."""
    with open(path, 'rb') as f:
        r = _Reader(f.read())
    header, _reserved = r.read('QQ')
    if header != _MX_LIST_MAGIC:
        raise ValueError(f'{path}: not an MXNet NDArray list (header {header:#x})')
    arrays = [_read_ndarray(r) for _ in range(r.read('Q'))]
    names = [r.raw(r.read('Q')).decode('utf-8') for _ in range(r.read('Q'))]
    if len(names) != len(arrays):
        raise ValueError(f'{path}: {len(arrays)} arrays but {len(names)} names')
    return dict(zip(names, arrays))


_MX_BN = {'gamma': 'weight', 'beta': 'bias', 'mean': 'running_mean', 'var': 'running_var'}
_MX_BLOCK = re.compile(r'^(res|bn)(\d)(a|b(\d+))$')


def mxnet_name_to_official(name: str) -> str:
    """``'arg:res4b5_branch2b1_weight'`` -> ``'b4_5.conv_branch2b1.weight'`` ('' = not used).

    The rule of the official ``convert_mxnet_to_torch``: ``res*`` are convs, ``bn*`` BN
    layers (``gamma, beta, moving_mean, moving_var``); ``{s}a`` is block ``b{s}``, ``{s}b{i}``
    block ``b{s}_{i}``; ``bn7_*`` the final BN; ``linear1000`` (ImageNet classifier) dropped.
    """
    name = name.split(':', 1)[1] if name.startswith(('arg:', 'aux:')) else name
    toks = name.split('_')
    if toks[0] == 'conv1a':
        return 'conv1a.weight'
    if toks[0] == 'bn7':
        return f'bn7.{_MX_BN[toks[-1]]}' if toks[-1] in _MX_BN else ''
    m = _MX_BLOCK.match(toks[0])
    if m is None or len(toks) < 3 or not toks[1].startswith('branch'):
        return ''
    kind, stage, sub, idx = m.groups()
    block = f'b{stage}' if sub == 'a' else f'b{stage}_{idx}'
    if kind == 'res':
        return f'{block}.conv_{toks[1]}.weight'
    return f'{block}.bn_{toks[1]}.{_MX_BN[toks[-1]]}' if toks[-1] in _MX_BN else ''


def convert_mxnet(path: str) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """MXNet ``.params`` -> (ResNet38d state dict, dropped names)."""
    official, dropped = {}, []
    for name, arr in load_mxnet_params(path).items():
        key = mxnet_name_to_official(name)
        if key:
            official[key] = torch.from_numpy(np.ascontiguousarray(arr))
        else:
            dropped.append(name)
    out, more = convert_state_dict(official)
    return out, dropped + more


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert official ResNet-38 weights (PyTorch state dict of psa/SEAM '
        'network/resnet38d.py Net, or the MXNet ilsvrc-cls_rna-a1 .params file, read without '
        'mxnet; the parser is untested on the real file) to ResNet38d keys')
    parser.add_argument('src', help='official .pth / .params')
    parser.add_argument('dst', help='output .pth')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.src.endswith('.params'):
        state, dropped = convert_mxnet(args.src)
    else:
        state, dropped = convert_state_dict(torch.load(args.src, map_location='cpu'))
    if not state:
        sys.exit(f'{args.src}: no ResNet-38 backbone keys found')
    torch.save({
        'state_dict': state,
        'meta': dict(source=args.src, converter='resnet38.py')
    }, args.dst)
    print(f'{len(state)} tensors -> {args.dst}; dropped {len(dropped)}: {dropped[:10]}'
          f'{" ..." if len(dropped) > 10 else ""}')


if __name__ == '__main__':
    main()
