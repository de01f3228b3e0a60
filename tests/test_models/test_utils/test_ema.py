import torch
from torch import nn

from mmwsss.models.utils.ema import EMATeacher


def test_teacher_starts_as_copy_and_follows_toco_rule():
    torch.manual_seed(0)
    student = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        student.weight.copy_(torch.tensor([[1.0, 2.0]]))
    teacher = EMATeacher(student, momentum=0.9)
    assert torch.equal(teacher.module.weight, student.weight)
    assert not teacher.module.weight.requires_grad
    with torch.no_grad():
        student.weight.copy_(torch.tensor([[11.0, -8.0]]))
    teacher.update(student)
    # t = 0.9 * t + 0.1 * s = 0.9 * [1, 2] + 0.1 * [11, -8] = [2.0, 1.0]
    assert torch.allclose(teacher.module.weight, torch.tensor([[2.0, 1.0]]))
    teacher.update(student)
    # 0.9 * [2, 1] + 0.1 * [11, -8] = [2.9, 0.1]
    assert torch.allclose(teacher.module.weight, torch.tensor([[2.9, 0.1]]))
    out = teacher(torch.ones(1, 2))
    assert not out.requires_grad and abs(out.item() - 3.0) < 1e-5


def test_teacher_state_dict_round_trip():
    student = nn.Linear(2, 2)
    t1 = EMATeacher(student, 0.9)
    t2 = EMATeacher(nn.Linear(2, 2), 0.9)
    t2.load_state_dict(t1.state_dict())
    assert torch.equal(t2.module.weight, t1.module.weight)
