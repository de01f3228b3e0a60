"""BECO's boundary-enhanced ClassMix (imgmix.py) and its photometric augmentation."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.structures import PixelData

from mmwsss.models.data_preprocessors import AlbuPhotometric, BECOClassMix, boundary_map
from mmwsss.models.data_preprocessors.albu_photometric import (cv2_gaussian_sigma, hsv_cv2_to_rgb,
                                                               rgb_to_hsv_cv2)
from mmwsss.models.data_preprocessors.class_mix import (class_mix_pairs, online_prediction,
                                                        random_class_mask)
from mmwsss.structures import WSSSBatch, WSSSDataSample


def test_boundary_of_a_square_is_the_ring_around_its_edge():
    a = torch.zeros(5, 5)
    a[1:4, 1:4] = 1
    b = boundary_map(a, 1)
    # dilate: the whole 5x5; erode: only the centre
    expected = torch.ones(5, 5)
    expected[2, 2] = 0
    assert torch.equal(b, expected)


def test_boundary_at_the_image_border_follows_cv2():
    # cv2's default border: outside pixels neither erode nor dilate
    a = torch.zeros(4, 4)
    a[:, :2] = 1
    b = boundary_map(a, 1)
    assert b.tolist() == [[0, 1, 1, 0]] * 4
    assert not boundary_map(torch.ones(3, 3)).any()  # constant mask: no boundary
    assert not boundary_map(torch.zeros(3, 3)).any()


def test_random_class_mask_pastes_half_of_the_fg_classes_rounded_up():
    label = torch.tensor([[0, 3, 3, 7], [255, 7, 9, 0]])
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        alpha = random_class_mask(label, generator=g)
        chosen = set(label[alpha.bool()].tolist())
        assert len(chosen) == 2 and chosen <= {3, 7, 9}  # ceil(3 / 2); never 0 or 255
        assert torch.equal(alpha, torch.isin(label, torch.tensor(sorted(chosen))).long())
    two = torch.tensor([[3, 7, 0]])
    assert len(set(two[random_class_mask(two).bool()].tolist())) == 1  # ceil(2 / 2)
    assert not random_class_mask(torch.tensor([[0, 255]])).any()
    # ignore_bg=False: the background is a class too
    assert len(set(two[random_class_mask(two, ignore=(255, )).bool()].tolist())) == 2


def test_pairs_are_the_batch_halves_in_both_directions():
    assert class_mix_pairs(4) == [(0, 2), (2, 0), (1, 3), (3, 1)]
    with pytest.raises(ValueError, match='even'):
        class_mix_pairs(3)


def _two():
    imgs = torch.stack([torch.full((3, 4, 4), 10.), torch.full((3, 4, 4), 200.)])
    labels = torch.zeros(2, 4, 4, dtype=torch.long)
    labels[0, :2, :2] = 4
    labels[1, 2:, 2:] = 6
    masks = torch.zeros(2, 4, 4, dtype=torch.long)
    masks[1] = 1
    return imgs, labels, masks


def test_warm_up_mix_pastes_the_partners_classes_with_offline_label_and_mask():
    imgs, labels, masks = _two()
    mixer = BECOClassMix(prob=1.0, photometric=None)
    out = mixer.mix(imgs, labels, masks)
    # sample 0 gets class 6 of sample 1 (its only fg class) at rows/cols 2-3
    paste = torch.zeros(4, 4, dtype=torch.bool)
    paste[2:, 2:] = True
    assert torch.equal(out['img'][0, 0][paste], torch.full((4, ), 200.))
    assert torch.equal(out['img'][0, 0][~paste], torch.full((12, ), 10.))
    assert out['label'][0][paste].eq(6).all() and out['label'][0, :2, :2].eq(4).all()
    assert torch.equal(out['mask'][0], paste.long())  # sample 1's mask is 1 where pasted
    # sample 1 gets class 4 of sample 0, with sample 0's (zero) mask there
    assert out['label'][1, :2, :2].eq(4).all() and out['mask'][1, :2, :2].eq(0).all()
    assert not out['boundary'].any()  # B = 0 during the warm-up
    assert out['mixed'].all()
    # prob 0: nothing changes
    out = BECOClassMix(prob=0.0, photometric=None).mix(imgs, labels, masks)
    assert torch.equal(out['label'], labels) and not out['mixed'].any()


def test_online_mix_uses_the_confident_online_prediction_and_a_boundary():
    imgs, labels, masks = _two()
    lab_ol = torch.zeros(2, 4, 4, dtype=torch.long)
    lab_ol[1, 1:3, 1:3] = 5  # online class 5 in sample 1, only (1, 1) confident
    lab_ol[0, 0, 0] = 8
    mask_ol = torch.zeros(2, 4, 4, dtype=torch.long)
    mask_ol[1, 1, 1] = 1
    mask_ol[0, 3, 3] = 1
    out = BECOClassMix(prob=1.0, photometric=None).mix(imgs, labels, masks, (lab_ol, mask_ol))
    alpha = torch.zeros(4, 4, dtype=torch.long)
    alpha[1, 1] = 1  # class 5 where it is confident
    assert out['img'][0, 0, 1, 1] == 200 and (out['img'][0, 0] == 200).sum() == 1
    # the mixed sample takes the ONLINE label and mask (not the offline 4 / mask)
    expected_label = lab_ol[0] * (1 - alpha) + lab_ol[1] * alpha
    assert torch.equal(out['label'][0], expected_label)
    assert torch.equal(out['mask'][0], mask_ol[0] * (1 - alpha) + mask_ol[1] * alpha)
    assert torch.equal(out['boundary'][0], boundary_map(alpha))
    assert out['boundary'][0].sum() == 9  # the 3x3 ring of a single pixel: dilate 9, erode 0
    # sample 1's partner (0) has confident online pixels only on the background (3, 3):
    # nothing to paste, it is "mixed" with an empty alpha: the online label, no boundary
    assert torch.equal(out['label'][1], lab_ol[1]) and not out['boundary'][1].any()


class _Net(torch.nn.Module):

    def __init__(self, value):
        super().__init__()
        self.value = value
        self.seen_training = []

    def extract_feat(self, x):
        return x

    def seg_forward(self, x):
        self.seen_training.append(self.training)
        out = torch.zeros(x.shape[0], 7, x.shape[2] // 2, x.shape[3] // 2)
        out[:, self.value] = 10.0
        return out


def _model(it):
    pre = SimpleNamespace(
        mean=torch.zeros(3), std=torch.ones(3), channel_conversion=True, _enable_normalize=True)
    return SimpleNamespace(
        branches=dict(b1=_Net(5), b2=_Net(5)),
        data_preprocessor=pre,
        align_corners=False,
        _current_iter=lambda: it)


def _samples(labels, masks):
    out = []
    for lab, m in zip(labels, masks):
        s = WSSSDataSample()
        s.gt_sem_seg = PixelData(data=lab[None])
        s.gt_conf_mask = PixelData(data=m[None])
        out.append(s)
    return out


def test_online_prediction_runs_both_nets_in_eval_mode_and_restores_train():
    nets = [_Net(2), _Net(3)]
    for n in nets:
        n.train()
    lab, mask = online_prediction(nets, torch.zeros(1, 3, 4, 4), thr=0.95)
    # mean logits: classes 2 and 3 both 5.0 -> softmax 0.4999..: not confident; argmax 2
    assert lab.eq(2).all() and not mask.any()
    assert all(n.seen_training == [False] and n.training for n in nets)
    lab, mask = online_prediction([_Net(4)], torch.zeros(1, 3, 4, 4))
    assert lab.eq(4).all() and mask.all()


@pytest.mark.parametrize('it,online', [(2, False), (3, True)])
def test_forward_switches_to_online_labels_at_the_schedule(it, online):
    imgs, labels, masks = _two()
    model = _model(it)
    mixer = BECOClassMix(
        prob=1.0, photometric=None, online=dict(type='StepOn', start=3, strict=False))
    wsss = WSSSBatch(img=imgs.to(torch.uint8))
    inputs, wsss, samples = mixer(model, imgs.clone(), wsss, _samples(labels, masks))
    seen = model.branches['b1'].seen_training
    assert (len(seen) == 1) == online
    new = torch.stack([s.gt_sem_seg.data[0] for s in samples])
    if online:
        # the nets predict class 5 everywhere, confidently: each partner's confident
        # online label is all 5, the whole image is pasted, the label is the online 5
        assert new.eq(5).all()
        assert all('gt_boundary' in s for s in samples)
    else:
        assert new[0, 2:, 2:].eq(6).all()  # offline class mix
    assert inputs.shape == imgs.shape and wsss.img.dtype == torch.uint8


def test_hsv_round_trip_and_cv2_constants():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (3, 8, 8)).float()
    back = hsv_cv2_to_rgb(rgb_to_hsv_cv2(x))
    assert (back - x).abs().max() < 1e-3
    h = rgb_to_hsv_cv2(torch.tensor([255., 0., 0.]).view(3, 1, 1))
    assert h.flatten().tolist() == [0.0, 255.0, 255.0]  # red: H 0, S 255, V 255 (cv2 units)
    h = rgb_to_hsv_cv2(torch.tensor([0., 0., 255.]).view(3, 1, 1))
    assert h[0].item() == 120.0  # blue = 240 degrees / 2
    assert cv2_gaussian_sigma(3) == pytest.approx(0.8)
    assert cv2_gaussian_sigma(5) == pytest.approx(1.1)


def test_photometric_gray_and_identity():
    x = torch.stack([torch.full((4, 4), 100.), torch.full((4, 4), 50.), torch.full((4, 4), 10.)])
    aug = AlbuPhotometric(color_prob=0, gray_prob=1, blur_prob=0)
    out, flipped = aug(x[None])
    gray = round(0.299 * 100 + 0.587 * 50 + 0.114 * 10)
    assert out.eq(gray).all() and not flipped.any()
    # swap_rb: the official code converts a channel-swapped image
    out, _ = AlbuPhotometric(color_prob=0, gray_prob=1, blur_prob=0, swap_rb=True)(x[None])
    assert out.eq(round(0.299 * 10 + 0.587 * 50 + 0.114 * 100)).all()
    out, _ = AlbuPhotometric(color_prob=0, gray_prob=0, blur_prob=0)(x[None])
    assert torch.equal(out[0], x)
    # brightness/contrast with zero HSV shifts: floor(v * alpha + beta * 255), clipped
    aug = AlbuPhotometric(color_prob=1, hue=0, sat=0, val=0, gray_prob=0, blur_prob=0)
    u = torch.tensor([0.0, 1.0, 1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 0.0])  # alpha 1.2, beta 0.2
    y = aug.apply_one(x, u)
    exp = torch.floor((x * 1.2 + 0.2 * 255).clamp(0, 255))
    assert (y - exp).abs().max() <= 1
