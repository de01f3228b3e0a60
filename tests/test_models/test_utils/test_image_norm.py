import torch

from mmwsss.models.utils.image_norm import denormalize, normalize


def test_round_trip_and_channel_order():
    img = torch.tensor([[[[10]], [[20]], [[200]]]], dtype=torch.uint8)  # RGB
    mean, std = [1.0, 2.0, 3.0], [2.0, 4.0, 5.0]
    x = normalize(img, mean, std, bgr_to_rgb=True)
    # (10 - 1) / 2 = 4.5; (20 - 2) / 4 = 4.5; (200 - 3) / 5 = 39.4
    assert torch.allclose(x.flatten(), torch.tensor([4.5, 4.5, 39.4]))
    assert torch.equal(denormalize(x, mean, std, bgr_to_rgb=True), img)
    # a preprocessor without conversion works in BGR: channel 0 is blue
    xb = normalize(img, mean, std, bgr_to_rgb=False)
    assert torch.allclose(xb.flatten(), torch.tensor([(200 - 1) / 2, (20 - 2) / 4, (10 - 3) / 5]))
    assert torch.equal(denormalize(xb, mean, std, bgr_to_rgb=False), img)
    assert torch.equal(denormalize(img.float(), None, None, bgr_to_rgb=True), img)
