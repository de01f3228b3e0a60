"""CARBHead: ASPP-v2 sum + frozen text classifier, text embeddings, CLIP inputs."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.foundation import CLIP_MEAN, CLIP_STD, TINY_CLIP_CFG
from mmwsss.models.heads.carb_head import CARB_CITYSCAPES_NAMES, CARB_TEMPLATES
from mmwsss.registry import MODELS


def _cfg(**kw):
    cfg = dict(
        type='CARBHead',
        in_channels=8,
        channels=32,
        num_classes=3,
        class_names=['road', 'car', 'sky'],
        templates=['a photo of a {}.'],
        clip=dict(type='OpenCLIP', arch=TINY_CLIP_CFG),
        dilations=(1, 2),
        norm_cfg=None)
    cfg.update(kw)
    return cfg


def test_prompts_match_the_official_lists():
    assert len(CARB_TEMPLATES) == 85 and len(set(CARB_TEMPLATES)) == 85
    assert all(t.count('{}') == 1 for t in CARB_TEMPLATES)
    assert len(CARB_CITYSCAPES_NAMES) == 19
    assert CARB_CITYSCAPES_NAMES[8:12] == ('tree', 'grass', 'sky', 'pedestrian')


def test_logits_are_the_text_classifier_of_the_summed_aspp():
    torch.manual_seed(0)
    head = MODELS.build(_cfg())
    assert not hasattr(head, 'conv_seg')
    x = torch.randn(2, 8, 5, 7)
    out = head([x])
    feat = head.aspp[0](x) + head.aspp[1](x)
    expect = torch.einsum('bchw,kc->bkhw', feat, head.text_embeddings)
    assert out.shape == (2, 3, 5, 7)
    torch.testing.assert_close(out, expect, rtol=1e-5, atol=1e-5)
    # frozen classifier and CLIP; the ASPP trains
    assert not head.text_embeddings.requires_grad
    assert all(not p.requires_grad for p in head.clip.parameters())
    assert all(p.requires_grad for p in head.aspp.parameters())
    head.train()
    assert not head.clip.clip.training


def test_text_embeddings_from_the_clip_and_from_a_file(tmp_path):
    torch.manual_seed(0)
    head = MODELS.build(_cfg())
    # encoded lazily (init_weights or first use), then kept in the state dict
    assert not bool(head.text_ready) and head.text_embeddings.abs().sum() == 0
    head.init_weights()
    assert bool(head.text_ready)
    emb = head.clip.class_embeddings(['road', 'car', 'sky'], ['a photo of a {}.'])
    torch.testing.assert_close(head.text_embeddings, emb)
    state = head.state_dict()
    assert {'text_embeddings', 'text_ready'} <= set(state)
    torch.manual_seed(1)
    other = MODELS.build(_cfg())
    other.load_state_dict(state)
    torch.testing.assert_close(other.encode_text_embeddings(), emb)  # not re-encoded
    torch.testing.assert_close(head.text_embeddings.norm(dim=1), torch.ones(3))
    saved = torch.randn(3, 32)
    path = str(tmp_path / 'city_carb_ViT16_clip_text.pth')
    torch.save(saved, path)
    head = MODELS.build(_cfg(text_embeddings=path))
    head.init_weights()
    torch.testing.assert_close(head.encode_text_embeddings(), saved)
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        MODELS.build(_cfg(text_embeddings=str(tmp_path / 'missing.pth')))
    torch.save(torch.randn(4, 32), path)
    with pytest.raises(ValueError, match=r'\(3, 32\)'):
        MODELS.build(_cfg(text_embeddings=path))
    with pytest.raises(ValueError, match='class_names'):
        MODELS.build(_cfg(num_classes=4))


def test_background_channel_and_clip_input():
    torch.manual_seed(0)
    head = MODELS.build(_cfg(background=True, clip_input='clip'))
    labels = torch.tensor([[0., 1.], [1., 0.]])
    assert head.full_labels(labels).tolist() == [[1, 0, 1], [1, 1, 0]]
    with pytest.raises(ValueError, match='3 classes'):
        head.full_labels(torch.ones(1, 3))
    img = torch.rand(1, 3, 4, 4) * 255
    imagenet = (img - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)) / \
        torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    clip = (img - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(
        1, 3, 1, 1)
    torch.testing.assert_close(head.clip_image(imagenet), clip, rtol=1e-5, atol=1e-5)
    official = MODELS.build(_cfg())
    assert official.clip_image(imagenet) is imagenet  # CARB feeds CLIP the ImageNet input


def test_clip_mask_is_the_argmax_of_upsampled_masked_cosines():
    torch.manual_seed(0)
    head = MODELS.build(_cfg())
    img = torch.randn(1, 3, 40, 56)  # 2x3 grid (not multiples of 16 are floored)
    scores = head.clip_scores(img)
    assert scores.shape == (1, 3, 2, 3) and scores.abs().max() <= 1 + 1e-5
    labels = torch.tensor([[1., 0., 1.]])
    mask = head.clip_mask(img, (40, 56), labels)
    up = F.interpolate(scores * labels[:, :, None, None], size=(40, 56), mode='bilinear')
    assert torch.equal(mask, up.argmax(1))
