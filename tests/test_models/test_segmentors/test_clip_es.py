"""CLIP-ES segmentor on a tiny random CLIP: predict contract and the CAM maths."""
import pytest
import torch

pytest.importorskip('open_clip')

from mmengine.registry import init_default_scope

from mmwsss.models.foundation import CLIP_MEAN, CLIP_STD, TINY_CLIP_CFG
from mmwsss.models.foundation.clip_es_ops import (caa_refine, cam_box_mask, minmax_scale,
                                                  sinkhorn_affinity)
from mmwsss.models.utils import cam_to_label
from mmwsss.registry import MODELS
from mmwsss.structures import WSSSDataSample

NAMES = ['cat', 'dog', 'bird avian']
BG = ['sky', 'ground']


def build(**kwargs):
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    cfg = dict(
        type='CLIPES',
        clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG),
        class_names=NAMES,
        bg_class_names=BG,
        attn_layers=2,
        data_preprocessor=dict(
            type='mmseg.SegDataPreProcessor',
            mean=CLIP_MEAN,
            std=CLIP_STD,
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255))
    cfg.update(kwargs)
    return MODELS.build(cfg).eval()


@pytest.fixture(scope='module')
def model():
    return build()


def sample(shape, ori_shape, labels, **meta):
    s = WSSSDataSample(
        metainfo=dict(
            img_shape=shape, ori_shape=ori_shape, img_labels=labels, img_path='demo.jpg', **meta))
    if all(k < len(NAMES) for k in labels):
        gt = torch.zeros(len(NAMES))
        gt[labels] = 1
        s.gt_img_label = gt
    return s


def test_predict_contract(model):
    g = torch.Generator().manual_seed(1)
    imgs = [
        torch.randint(0, 256, (3, 48, 80), generator=g, dtype=torch.uint8),
        torch.randint(0, 256, (3, 48, 80), generator=g, dtype=torch.uint8)
    ]
    # the second image is 40 x 64, bottom/right-padded to the batch size
    samples = [sample((48, 80), (96, 160), [0, 2]), sample((40, 64), (40, 64), [1])]
    with torch.no_grad():  # the pseudo-label tool runs under no_grad; Grad-CAM must work
        out = model.test_step(dict(inputs=imgs, data_samples=samples))
    assert [type(o) for o in out] == [WSSSDataSample] * 2
    cams0, cams1 = out[0].cams.data, out[1].cams.data
    assert cams0.shape == (3, 96, 160) and cams1.shape == (3, 40, 64)
    for cams, present in ((cams0, [0, 2]), (cams1, [1])):
        absent = [k for k in range(3) if k not in present]
        assert cams.min() >= 0 and cams.max() <= 1 + 1e-6
        assert torch.all(cams[absent] == 0)
        assert torch.all(cams[present].flatten(1).max(1)[0] > 0.5)
    hot = torch.tensor([[1., 0., 1.]])
    assert torch.equal(out[0].pred_sem_seg.data, cam_to_label(cams0[None], hot, bg_thr=0.5))
    assert out[0].pred_sem_seg.data.shape == (1, 96, 160)
    assert set(out[1].pred_sem_seg.data.unique().tolist()) <= {0, 2}


def _reference_gradcam(model, img, present):
    """Grad-CAM computed the way the official code does: a hook on the last block's
    ln_1 inside an ordinary autograd forward through open_clip's own blocks."""
    clip = model.clip
    visual = clip.clip.visual
    fg, bg = model.text_embeddings()
    text = torch.cat([fg[present], bg])
    store = {}

    def hook(_, __, output):
        output.retain_grad()
        store['act'] = output

    handle = visual.transformer.resblocks[-1].ln_1.register_forward_hook(hook)
    cams = []
    try:
        for k in range(len(present)):
            with torch.enable_grad():
                # CLIP is frozen: make the input a grad leaf so ln_1's output has a grad
                x, grid = clip.embed_image(img.clone().requires_grad_(True))
                for block in visual.transformer.resblocks:
                    x = block(x)  # open_clip's forward (need_weights=False)
                emb = torch.nn.functional.normalize(
                    visual.ln_post(x)[:, 1:].mean(1) @ visual.proj, dim=-1)
                prob = (clip.logit_scale * emb @ text.t()).softmax(-1)[0, k]
                prob.backward()
            act = store['act'][0, 1:].detach()
            grad = store['act'].grad[0, 1:]
            cam = (act * grad.mean(0)).sum(-1).clamp(min=0).view(*grid)
            cams.append(cam)
    finally:
        handle.remove()
    return minmax_scale(minmax_scale(torch.stack(cams)))


def test_gradcam_matches_hook_reference(model):
    img = torch.randn(1, 3, 48, 64, generator=torch.Generator().manual_seed(2))
    present = [0, 2]
    ref = _reference_gradcam(model, img, present)
    grad_model = build(cam_type='gradcam')
    ours = grad_model.single_scale_cams(img, present, out_size=(3, 4))
    assert torch.allclose(ours, ref, atol=1e-5)


def test_caa_assembly(model):
    img = torch.randn(1, 3, 48, 64, generator=torch.Generator().manual_seed(3))
    present = [1]
    cams = _reference_gradcam(model, img, present)
    attns = model.clip.forward_tokens(img)['attns']
    attn = torch.stack(attns[-2:]).mean(0)[0, 1:, 1:]
    trans = sinkhorn_affinity(attn, 3)
    exp = minmax_scale(caa_refine(cams, trans, cam_box_mask(cams, 0.4)))
    ours = model.single_scale_cams(img, present, out_size=(3, 4))
    assert torch.allclose(ours, exp, atol=1e-5)


def test_softmax_is_over_present_and_background_classes():
    img = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(4))
    base = build(cam_type='gradcam').single_scale_cams(img, [0], (4, 6))
    assert base.max() > 0.99  # min-max scaled, not degenerate
    # absent foreground classes are not in the softmax: renaming them changes nothing
    other_absent = build(cam_type='gradcam', class_names=['cat', 'zebra', 'fish'])
    assert torch.allclose(other_absent.single_scale_cams(img, [0], (4, 6)), base)
    # background classes are
    other_bg = build(cam_type='gradcam', bg_class_names=['water', 'road', 'wall'])
    assert not torch.allclose(other_bg.single_scale_cams(img, [0], (4, 6)), base)


def test_scales_and_flip(model):
    img = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    ms = build(scales=(1.0, 0.5))
    a = model.single_scale_cams(img, [0, 1], (64, 64))
    b = model.single_scale_cams(model.resize_input(img, 0.5), [0, 1], (64, 64))
    assert model.resize_input(img, 0.5).shape[-2:] == (32, 32)
    assert model.resize_input(img[..., :50, :60], 1.0).shape[-2:] == (64, 64)
    assert torch.allclose(ms.image_cams(img, [0, 1], (64, 64))[:2], (a + b) / 2, atol=1e-6)
    plain = model.predict(img, [sample((64, 64), (64, 64), [0])])[0].cams.data
    flipped = model.predict(
        img, [sample((64, 64), (64, 64), [0], flip=True, flip_direction='horizontal')])[0].cams.data
    assert torch.equal(flipped, plain.flip(-1))


def test_errors(model):
    s = WSSSDataSample(
        metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32), img_path='nolabel.jpg'))
    with pytest.raises(KeyError, match='nolabel.jpg'):
        model.predict(torch.zeros(1, 3, 32, 32), [s])
    with pytest.raises(ValueError, match='outside'):
        model.predict(torch.zeros(1, 3, 32, 32), [sample((32, 32), (32, 32), [5])])
    with pytest.raises(NotImplementedError, match='training-free'):
        model.loss(torch.zeros(1, 3, 32, 32), [])
    with pytest.raises(ValueError, match='cam_type'):
        build(cam_type='lrp')


@pytest.mark.parametrize('name', [
    'clip_es/clip-es_vit-b16_1xb1-trainfree_voc12aug-ori.py',
    'clip_es/clip-es_vit-b16_1xb1-trainfree_coco-ori.py',
    'clip_es/clip-es_vit-b16_1xb1-trainfree_coco-mini-voc-ori.py',
    'sepl/sepl_sam-vit-h_1xb1-trainfree_voc12aug-pl-clip-es.py',
    'sepl/sepl_sam-vit-b_1xb1-trainfree_coco-mini-voc-pl-clip-es.py',
])
def test_configs_build(name):
    """Every config builds (tiny CLIP / SAM in place of the released sizes)."""
    import os.path as osp

    from mmengine.config import Config

    from mmwsss.models.refiners import RefineChain
    root = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs')
    cfg = Config.fromfile(osp.join(root, name))
    assert cfg.model.clip.arch == 'ViT-B-16' and cfg.model.clip.quick_gelu
    cfg.model.clip.arch = TINY_CLIP_CFG
    cfg.model.clip_checkpoint = None
    init_default_scope('mmwsss')
    model = MODELS.build(cfg.model)
    assert len(model.class_names) == {'coco-ori': 80}.get(name.split('_')[-1][:-3], 20)
    refiners = cfg.pseudo_label_cfg.refiners
    for r in refiners:
        if r['type'] == 'SAMRefiner':
            assert r['sam']['arch'] in ('vit_b', 'vit_h')
            r['sam'].update(arch='tiny', checkpoint=None)
    chain = RefineChain(**cfg.pseudo_label_cfg)
    assert [type(r).__name__ for r in chain.refiners][:2] == ['DenseCRF', 'ConfidenceIgnore']
    assert cfg.pseudo_label_dataloader.batch_size == 1


def _clip_normalised(img):
    """(1, 3, H, W) uint8 RGB -> CLIP-normalised input, as the data preprocessor."""
    from mmwsss.models.utils.image_norm import normalize
    return normalize(img, CLIP_MEAN, CLIP_STD, True)


def _official_input(img, size):
    """generate_cams_voc12.py::_transform_resize on a PIL image: torchvision
    Resize((h, w), BICUBIC) -> RGB -> ToTensor -> Normalize(CLIP mean/std)."""
    from PIL import Image
    from torchvision.transforms import Compose, InterpolationMode, Normalize, Resize, ToTensor
    tf = Compose([
        Resize(size, interpolation=InterpolationMode.BICUBIC), lambda im: im.convert('RGB'),
        ToTensor(),
        Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
    ])
    return tf(Image.fromarray(img[0].permute(1, 2, 0).numpy()))[None]


def _smooth_image(size, seed=6):
    """A uint8 image with structure at several frequencies (random noise would
    be averaged away by any kernel)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.nn.functional.interpolate(
        torch.rand(1, 3, 5, 7, generator=g) * 255, size=size, mode='bilinear', align_corners=False)
    noise = torch.rand(1, 3, *size, generator=g) * 60 - 30
    return (low + noise).round().clamp(0, 255).to(torch.uint8)


@pytest.mark.parametrize('scale', [1.0, 0.75])
def test_input_path_is_the_official_pil_bicubic(model, scale):
    from mmwsss.models.foundation.clip_es_ops import clip_es_input_size
    img = _smooth_image((45, 61))  # needs a resize: 45 x 61 -> 48 x 64
    x = _clip_normalised(img)
    size = clip_es_input_size(45, 61, scale, 16)
    assert size == {1.0: (48, 64), 0.75: (48, 48)}[scale]
    official = _official_input(img, size)
    ours = model.resize_input(x, scale)
    assert ours.shape == official.shape
    assert torch.allclose(ours, official, atol=1e-5)
    # torch's bicubic on the normalised tensor is another kernel
    torch_path = build(input_resize='torch_bicubic').resize_input(x, scale)
    assert (torch_path - official).abs().max() > 0.05
    # and the CAMs follow the input (Grad-CAM: no uint8 box threshold to flip)
    grad = build(cam_type='gradcam')
    cams = grad.single_scale_cams(grad.resize_input(x, scale), [0, 1], (45, 61))
    assert torch.allclose(cams, grad.single_scale_cams(official, [0, 1], (45, 61)), atol=1e-4)
    # no resize needed: the input passes through untouched
    same = x[..., :32, :48]
    assert model.resize_input(same, 1.0) is same
    with pytest.raises(ValueError, match='input_resize'):
        build(input_resize='bilinear')


def test_pos_embed_fp16_option():
    from mmwsss.models.foundation import OpenCLIP
    torch.manual_seed(0)
    plain = OpenCLIP(arch=TINY_CLIP_CFG)
    rounded = OpenCLIP(arch=TINY_CLIP_CFG, pos_embed_fp16=True)
    rounded.load_state_dict(plain.state_dict())
    pos = plain.clip.visual.positional_embedding
    # off by default: the float32 embedding itself at the training grid
    assert plain.pos_embed((4, 4)) is pos
    for grid in ((4, 4), (3, 5)):
        exp = plain.pos_embed(grid).half().float()
        got = rounded.pos_embed(grid)
        assert got.dtype == torch.float32 and torch.equal(got, exp)
        assert not torch.equal(got, plain.pos_embed(grid))  # it does round
