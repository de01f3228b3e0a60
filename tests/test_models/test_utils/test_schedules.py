import math

import pytest
import torch

from mmwsss.models.utils.schedules import (Constant, CosineDescent, LinearRamp, StepOn, Window,
                                           build_schedule)


def test_step_on_follows_the_scripts_strict_rule():
    s = StepOn(2000)  # `if n_iter <= 2000: w = 0`
    assert [s(0), s(2000), s(2001)] == [0.0, 0.0, 1.0]
    assert StepOn(2000, strict=False)(2000) == 1.0


def test_window():
    w = Window(8000, 12000)
    assert [w(8000), w(8001), w(12000), w(12001)] == [0.0, 1.0, 1.0, 0.0]


def test_linear_ramp():
    r = LinearRamp(10, 20, 0.0, 2.0)
    assert [r(0), r(10), r(15), r(20), r(99)] == [0.0, 0.0, 1.0, 2.0, 2.0]


def test_cosine_descent_per_class_targets():
    # DuPL: 0.70 -> per-class targets over 2000..20000
    c = CosineDescent(2000, 20000, 0.70, [0.70, 0.55])
    assert torch.allclose(c(0), torch.tensor([0.70, 0.70]))
    assert torch.allclose(c(20000), torch.tensor([0.70, 0.55]))
    # half-way: end + 0.5 * (0.70 - end) * (1 + cos(pi / 2)) = (0.70 + end) / 2
    assert torch.allclose(c(11000), torch.tensor([0.70, 0.625]))
    # a quarter: 0.55 + 0.075 * (1 + cos(pi/4)) = 0.55 + 0.075 * 1.70711 = 0.68303
    assert c(6500)[1].item() == pytest.approx(0.55 + 0.075 * (1 + math.cos(math.pi / 4)))


def test_build_schedule():
    assert build_schedule(None)(5) == 1.0
    assert build_schedule(0.3)(5) == 0.3
    assert isinstance(build_schedule(dict(type='StepOn', start=3)), StepOn)
    assert isinstance(build_schedule(Constant(2.0)), Constant)
    with pytest.raises(ValueError):
        CosineDescent(5, 5, 1.0, 0.0)
