"""OpenCLIP wrapper: loading (TorchScript / state dict), manual forward, text side."""
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip('open_clip')

from mmwsss.models.foundation import (TINY_CLIP_CFG, OpenCLIP, load_clip_state_dict,
                                      save_openai_torchscript)


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    return OpenCLIP(arch=TINY_CLIP_CFG)


@pytest.fixture(scope='module')
def ckpts(tiny, tmp_path_factory):
    root = tmp_path_factory.mktemp('clip')
    jit_path = str(root / 'tiny_openai.pt')
    save_openai_torchscript(tiny.clip, jit_path)
    sd_path = str(root / 'tiny_openclip.pth')
    torch.save(tiny.clip.state_dict(), sd_path)
    nested_path = str(root / 'nested.pth')
    torch.save({'state_dict': {
        'module.' + k: v
        for k, v in tiny.clip.state_dict().items()
    }}, nested_path)
    return dict(jit=jit_path, sd=sd_path, nested=nested_path, root=root)


def test_quick_gelu_flag():
    from open_clip.transformer import QuickGELU
    act = OpenCLIP(arch=TINY_CLIP_CFG).clip.visual.transformer.resblocks[0].mlp.gelu
    assert isinstance(act, QuickGELU)
    act = OpenCLIP(arch=TINY_CLIP_CFG, quick_gelu=False).clip.visual.transformer.resblocks[0]
    assert isinstance(act.mlp.gelu, torch.nn.GELU)


def test_manual_forward_matches_open_clip(tiny):
    img = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    ours = tiny.encode_image(img, pool='tok', normalize=False)
    ref = tiny.clip.encode_image(img)  # open_clip's own forward (CLS pooling)
    assert torch.allclose(ours, ref, atol=1e-6)
    # tokens after the manual blocks equal open_clip's transformer output
    x, _ = tiny.embed_image(img)
    ref_tokens = tiny.clip.visual.transformer(x)
    assert torch.allclose(tiny.forward_tokens(img)['tokens'], ref_tokens, atol=1e-6)
    # avg pooling = mean of ln_post patch tokens @ proj
    avg = tiny.encode_image(img, pool='avg', normalize=False)
    manual = tiny.clip.visual.ln_post(ref_tokens)[:, 1:].mean(1) @ tiny.clip.visual.proj
    assert torch.allclose(avg, manual, atol=1e-6)


def test_attention_maps_are_head_averaged_softmax(tiny):
    img = torch.randn(1, 3, 32, 48, generator=torch.Generator().manual_seed(2))
    out = tiny.forward_tokens(img)
    assert out['grid'] == (2, 3)
    assert len(out['attns']) == tiny.num_layers
    attn0 = out['attns'][0]
    assert attn0.shape == (1, 7, 7)
    assert torch.allclose(attn0.sum(-1), torch.ones(1, 7), atol=1e-6)
    # recompute block 0's attention by hand from its in_proj weights
    block = tiny.clip.visual.transformer.resblocks[0]
    x, _ = tiny.embed_image(img)
    y = block.ln_1(x)[0]
    d = y.shape[-1]
    heads = block.attn.num_heads
    q, k, _ = F.linear(y, block.attn.in_proj_weight, block.attn.in_proj_bias).split(d, -1)
    q = q.view(-1, heads, d // heads).transpose(0, 1)
    k = k.view(-1, heads, d // heads).transpose(0, 1)
    ref = ((q @ k.transpose(1, 2)) / (d // heads)**0.5).softmax(-1).mean(0)
    assert torch.allclose(attn0[0], ref, atol=1e-6)


def test_pos_embed_interpolation(tiny):
    pos = tiny.clip.visual.positional_embedding  # grid 4 x 4 (+ CLS)
    assert tiny.pos_embed((4, 4)) is pos
    up = tiny.pos_embed((8, 8))
    assert up.shape == (65, pos.shape[1])
    assert torch.equal(up[0], pos[0])  # CLS row kept
    grid = pos[1:].view(4, 4, -1)
    upg = up[1:].view(8, 8, -1)
    # bilinear, align_corners=False, x2: out[0, 0] = in[0, 0] (border clamp),
    # out[0, 1] = 0.75 in[0, 0] + 0.25 in[0, 1], out[1, 1] = bilinear of 4 corners
    assert torch.allclose(upg[0, 0], grid[0, 0], atol=1e-6)
    assert torch.allclose(upg[0, 1], 0.75 * grid[0, 0] + 0.25 * grid[0, 1], atol=1e-6)
    exp = 0.5625 * grid[0, 0] + 0.1875 * (grid[0, 1] + grid[1, 0]) + 0.0625 * grid[1, 1]
    assert torch.allclose(upg[1, 1], exp, atol=1e-6)


def test_deterministic(tiny):
    img = torch.randn(1, 3, 48, 32, generator=torch.Generator().manual_seed(3))
    a = tiny.forward_tokens(img)
    b = tiny.forward_tokens(img)
    assert torch.equal(a['tokens'], b['tokens'])
    assert all(torch.equal(x, y) for x, y in zip(a['attns'], b['attns']))


def test_text_embeddings(tiny):
    import open_clip
    assert torch.equal(
        tiny.tokenize(['a clean origami cat.']), open_clip.tokenize(['a clean origami cat.']))
    templates = ['a {}.', 'a photo of a {}.']
    emb = tiny.class_embeddings(['cat', 'person with clothes,people,human'], templates)
    assert emb.shape == (2, 32)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(2), atol=1e-6)
    per = tiny.encode_text(['a cat.', 'a photo of a cat.'])
    assert torch.allclose(emb[0], F.normalize(per.mean(0), dim=0), atol=1e-6)


def test_patch_text_similarity(tiny):
    img = torch.randn(1, 3, 32, 64, generator=torch.Generator().manual_seed(4))
    text = tiny.class_embeddings(['cat', 'dog', 'sky'], ['a {}.'])
    sim = tiny.patch_text_similarity(img, text)
    assert sim.shape == (1, 3, 2, 4)
    out = tiny.forward_tokens(img)
    patch = tiny.clip.visual.ln_post(out['tokens'][0, 1:]) @ tiny.clip.visual.proj
    ref = F.normalize(patch, dim=-1) @ text.t()  # (8, 3), row-major over the grid
    assert torch.allclose(sim[0].flatten(1).t(), ref, atol=1e-5)


def test_load_openai_torchscript(tiny, ckpts):
    state = load_clip_state_dict(ckpts['jit'])
    assert not {'input_resolution', 'context_length', 'vocab_size'} & set(state)
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    model = OpenCLIP(arch=TINY_CLIP_CFG, checkpoint=ckpts['jit'])
    for k, v in tiny.clip.state_dict().items():  # archive holds fp16-rounded weights
        assert torch.equal(model.clip.state_dict()[k], v.half().float()), k


def test_openai_weights_need_quick_gelu(ckpts):
    with pytest.raises(ValueError, match='QuickGELU'):
        OpenCLIP(arch=TINY_CLIP_CFG, checkpoint=ckpts['jit'], quick_gelu=False)


def test_load_open_clip_state_dicts(tiny, ckpts):
    img = torch.randn(1, 3, 64, 64)
    for key in ('sd', 'nested'):
        model = OpenCLIP(arch=TINY_CLIP_CFG, checkpoint=ckpts[key])
        assert torch.equal(model.encode_image(img), tiny.encode_image(img))
        assert not any(p.requires_grad for p in model.parameters())


def test_checkpoint_errors_name_file_and_keys(tiny, ckpts):
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        OpenCLIP(arch=TINY_CLIP_CFG, checkpoint=str(ckpts['root'] / 'missing.pt'))
    other = dict(TINY_CLIP_CFG, vision_cfg=dict(TINY_CLIP_CFG['vision_cfg'], layers=2))
    with pytest.raises(RuntimeError) as err:
        OpenCLIP(arch=other, checkpoint=ckpts['sd'])
    assert 'tiny_openclip.pth' in str(err.value)
    assert 'unexpected keys: visual.transformer.resblocks.2.' in str(err.value)
    wider = dict(TINY_CLIP_CFG, embed_dim=16)
    with pytest.raises(RuntimeError, match=r'shape mismatch: text_projection'):
        OpenCLIP(arch=wider, checkpoint=ckpts['jit'])
    state = tiny.clip.state_dict()
    del state['visual.proj']
    path = str(ckpts['root'] / 'partial.pth')
    torch.save(state, path)
    with pytest.raises(RuntimeError, match=r'partial.pth[\s\S]*missing keys: visual.proj'):
        OpenCLIP(arch=TINY_CLIP_CFG, checkpoint=path)


def test_unknown_arch():
    with pytest.raises(KeyError, match='ViT-Nope'):
        OpenCLIP(arch='ViT-Nope')
