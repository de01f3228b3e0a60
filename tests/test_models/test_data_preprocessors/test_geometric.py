"""GeometricView: SEAM's x0.3 view, ACR's flip, as preprocessor views."""
import pytest
import torch
import torch.nn.functional as F

from mmwsss.models.data_preprocessors import GeometricView, WSSSDataPreProcessor
from mmwsss.testing import demo_wsss_inputs


def test_flip_then_rescale_matches_the_official_calls():
    x = torch.arange(2 * 3 * 7 * 10, dtype=torch.float).reshape(2, 3, 7, 10)
    view = GeometricView(flip=True, scale_factor=0.3, align_corners=True)
    out, flipped = view(x)
    assert flipped.tolist() == [True, True]
    assert out.shape == (2, 3, 2, 3)  # floor(7 * 0.3), floor(10 * 0.3)
    expected = F.interpolate(x.flip(-1), scale_factor=0.3, mode='bilinear', align_corners=True)
    assert torch.equal(out, expected)
    # align_corners=True keeps the corners: top-left of the flip is x[..., 0, 9]
    assert torch.equal(out[:, :, 0, 0], x[:, :, 0, 9])


def test_flip_only_and_errors():
    x = torch.rand(1, 3, 4, 5)
    assert torch.equal(GeometricView(flip=True)(x)[0], x.flip(-1))
    with pytest.raises(ValueError, match='scale_factor or size'):
        GeometricView(scale_factor=0.5, size=(2, 2))
    with pytest.raises(ValueError, match='must be > 0'):
        GeometricView(scale_factor=0.0)


def test_view_of_the_main_input_in_the_preprocessor():
    pre = WSSSDataPreProcessor(
        mean=[0., 0., 0.],
        std=[1., 1., 1.],
        size=(32, 32),
        num_classes=3,
        views=dict(small=dict(source='main', aug=dict(type='GeometricView', scale_factor=0.5))))
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=3)
    data = dict(inputs=[i.to(torch.uint8) for i in inputs], data_samples=samples)
    out = pre(data, training=True)
    small = out['wsss'].views['small']
    assert small.shape == (2, 3, 16, 16)
    expected = F.interpolate(out['inputs'], scale_factor=0.5, mode='bilinear')
    assert torch.allclose(small, expected, atol=1e-4)


def test_a_chain_of_view_augs_and_its_flips():
    pre = WSSSDataPreProcessor(
        mean=[0., 0., 0.],
        std=[1., 1., 1.],
        size=(32, 32),
        num_classes=3,
        views=dict(
            strong=dict(
                source='main',
                aug=[
                    dict(type='GeometricView', flip=True),
                    dict(type='GeometricView', scale_factor=0.75)
                ])))
    inputs, samples = demo_wsss_inputs(batch=2, num_classes=3)
    data = dict(inputs=[i.to(torch.uint8) for i in inputs], data_samples=samples)
    out = pre(data, training=True)
    assert out['wsss'].view_flips['strong'].tolist() == [True, True]
    expected = F.interpolate(out['inputs'].flip(-1), scale_factor=0.75, mode='bilinear')
    assert out['wsss'].views['strong'].shape == (2, 3, 24, 24)
    assert torch.allclose(out['wsss'].views['strong'], expected, atol=1e-4)
