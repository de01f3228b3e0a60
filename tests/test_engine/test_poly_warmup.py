import pytest
import torch

from mmwsss.engine.schedulers import PolyWarmupLR, poly_warmup_factor


def _toco_lr(it, lr0=6e-5, warm=1500, ratio=1e-6, max_it=20000, power=0.9):
    """ToCo utils/optimizer.py PolyWarmupAdamW, written out."""
    if it < warm:
        return lr0 * (1 - (1 - it / warm) * (1 - ratio))
    return lr0 * (1 - it / max_it)**power


def test_factor_by_hand():
    assert poly_warmup_factor(0, 1500, 1e-6, 20000, 0.9) == pytest.approx(1e-6)
    assert poly_warmup_factor(750, 1500, 1e-6, 20000, 0.9) == pytest.approx(0.5 + 0.5e-6)
    # the poly part counts from 0: at the end of the warm-up (1 - 0.075) ** 0.9 = 0.93226
    assert poly_warmup_factor(1500, 1500, 1e-6, 20000, 0.9) == pytest.approx(0.925**0.9)


def test_scheduler_matches_official_rule_per_group():
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([{'params': [p1], 'lr': 6e-5}, {'params': [p2], 'lr': 6e-4}])
    sched = PolyWarmupLR(opt, warmup_iters=15, warmup_ratio=1e-6, max_iters=200, power=0.9)
    for it in range(40):
        # lr used by the optimiser step of iteration `it`
        assert opt.param_groups[0]['lr'] == pytest.approx(_toco_lr(it, 6e-5, 15, 1e-6, 200))
        assert opt.param_groups[1]['lr'] == pytest.approx(_toco_lr(it, 6e-4, 15, 1e-6, 200))
        opt.step()
        sched.step()


def test_bad_arguments():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError):
        PolyWarmupLR(opt, warmup_iters=300, max_iters=200)
    with pytest.raises(ValueError, match='by_epoch'):
        PolyWarmupLR(opt, by_epoch=True)
