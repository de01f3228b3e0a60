"""PrototypeBank: every update rule with numbers worked out by hand."""
import numpy as np
import pytest
import torch

from mmwsss.models.prototypes import PrototypeBank, cosine_maps
from mmwsss.registry import MODELS


def _t(x):
    return torch.tensor(x, dtype=torch.float32)


def test_registered():
    bank = MODELS.build(dict(type='PrototypeBank', num_classes=2, dim=3))
    assert isinstance(bank, PrototypeBank)
    assert bank.protos.shape == (2, 1, 3) and not bank.valid.any()


def test_momentum_write_first_copy_then_blend():
    bank = PrototypeBank(num_classes=2, dim=2, update='momentum', momentum=0.9)
    present = torch.tensor([[1, 0]])
    bank.write(_t([[[1., 2.], [7., 7.]]]), present)
    # first write copies; class 1 absent: untouched, still invalid
    assert torch.equal(bank.protos[:, 0], _t([[1., 2.], [0., 0.]]))
    assert bank.valid.tolist() == [[True], [False]]
    bank.write(_t([[[11., -8.], [7., 7.]]]), present)
    # 0.9 * (1, 2) + 0.1 * (11, -8) = (2.0, 1.0)
    assert torch.allclose(bank.protos[0, 0], _t([2.0, 1.0]))
    assert bank.count.tolist() == [[2], [0]]


def test_momentum_first_write_blend_from_init():
    bank = PrototypeBank(num_classes=1, dim=2, momentum=0.75, first_write='blend')
    bank.write(_t([[[4., -8.]]]), torch.tensor([[1]]))
    # 0.75 * 0 + 0.25 * (4, -8)
    assert torch.allclose(bank.protos[0, 0], _t([1., -2.]))


def test_momentum_sequential_vs_mean_within_batch():
    protos = _t([[[2., 0.]], [[0., 4.]]])  # two images, one class
    present = torch.tensor([[1], [1]])
    seq = PrototypeBank(num_classes=1, dim=2, momentum=0.5)
    seq.write(protos, present)
    # image 0 copies (2, 0); image 1 blends 0.5 (2, 0) + 0.5 (0, 4) = (1, 2)
    assert torch.allclose(seq.protos[0, 0], _t([1., 2.]))
    mean = PrototypeBank(num_classes=1, dim=2, momentum=0.5, batch_reduce='mean')
    mean.write(protos, present)
    # batch mean (1, 2) copied once
    assert torch.allclose(mean.protos[0, 0], _t([1., 2.])) and mean.count.item() == 1
    mean.write(_t([[[3., 2.]], [[9., 9.]]]), torch.tensor([[1], [0]]))
    # only image 0 is present: mean (3, 2); 0.5 (1, 2) + 0.5 (3, 2) = (2, 2)
    assert torch.allclose(mean.protos[0, 0], _t([2., 2.]))


def test_fifo_overflow_wraps_pointer():
    bank = PrototypeBank(num_classes=2, dim=1, num_slots=3, update='fifo')
    present = torch.tensor([[1, 0]])
    for v in [1., 2., 3., 4., 5.]:
        bank.write(_t([[[v], [100.]]]), present)
    # slots 0,1,2 get 1,2,3; then 4 overwrites slot 0, 5 slot 1; pointer at 2
    assert bank.protos[0, :, 0].tolist() == [4., 5., 3.]
    assert bank.ptr.tolist() == [2, 0]
    assert bank.count[0].tolist() == [2, 2, 1] and bank.count[1].tolist() == [0, 0, 0]
    assert torch.equal(bank.protos[1], torch.zeros(3, 1))


def test_fifo_batch_order_and_class_order():
    bank = PrototypeBank(num_classes=2, dim=1, num_slots=2, update='fifo')
    protos = _t([[[1.], [10.]], [[2.], [20.]], [[3.], [30.]]])
    present = torch.tensor([[1, 1], [0, 1], [1, 1]])
    bank.write(protos, present)
    # class 0 receives 1 then 3; class 1 receives 10, 20, 30 (30 wraps onto slot 0)
    assert bank.protos[0, :, 0].tolist() == [1., 3.]
    assert bank.protos[1, :, 0].tolist() == [30., 20.]
    assert bank.ptr.tolist() == [0, 1]


def test_fifo_rca_blend_quirk():
    # RCA: queue[ptr] = 0.99 * queue[ptr] + 0.01 * emb on randn-initialised queues
    bank = PrototypeBank(
        num_classes=1,
        dim=2,
        num_slots=2,
        update='fifo',
        fifo_blend=0.99,
        init='randn',
        init_seed=3)
    init = bank.protos.clone()
    emb = _t([[[100., -50.]]])
    bank.write(emb, torch.tensor([[1]]))
    want = 0.99 * init[0, 0] + 0.01 * _t([100., -50.])
    assert torch.allclose(bank.protos[0, 0], want)
    assert torch.equal(bank.protos[0, 1], init[0, 1])  # the other slot keeps its random row
    assert bank.ptr.item() == 1
    # the random init is seeded: the same seed gives the same queues on every rank
    again = PrototypeBank(num_classes=1, dim=2, num_slots=2, init='randn', init_seed=3)
    assert torch.equal(again.protos, init)


def test_keep_last_absent_class_keeps_value():
    bank = PrototypeBank(num_classes=3, dim=2, update='keep_last')
    bank.write(_t([[[1., 1.], [2., 2.], [3., 3.]]]), torch.tensor([[1, 1, 0]]))
    bank.write(_t([[[5., 5.], [9., 9.], [8., 8.]]]), torch.tensor([[0, 1, 1]]))
    # class 0 absent in the second write: keeps (1, 1); 1 and 2 overwritten
    assert bank.protos[:, 0].tolist() == [[1., 1.], [9., 9.], [8., 8.]]
    assert bank.count[:, 0].tolist() == [1, 2, 1]


def test_label_mask_never_writes_absent_classes():
    for update in ('momentum', 'keep_last', 'fifo'):
        bank = PrototypeBank(num_classes=2, dim=2, update=update, num_slots=1)
        bank.write(_t([[[1., 2.], [3., 4.]]]), torch.tensor([[0, 0]]))
        assert not bank.valid.any() and torch.equal(bank.protos, torch.zeros(2, 1, 2)), update


def test_slot_wise_write():
    bank = PrototypeBank(num_classes=1, dim=1, num_slots=2, update='momentum', momentum=0.5)
    bank.write(_t([[[[2.], [4.]]]]), torch.tensor([[1]]))
    bank.write(_t([[[[0.], [8.]]]]), torch.tensor([[1]]))
    assert bank.protos[0, :, 0].tolist() == [1., 6.]


def test_fixed_load_npy_pt_and_wrong_shape(tmp_path):
    centres = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    npy = tmp_path / 'centres.npy'
    np.save(npy, centres)
    bank = PrototypeBank(num_classes=2, dim=3, num_slots=2, update='fixed', path=str(npy))
    assert torch.equal(bank.protos, torch.from_numpy(centres)) and bank.valid.all()
    with pytest.raises(RuntimeError, match='fixed'):
        bank.write(torch.zeros(1, 2, 3), torch.ones(1, 2))
    pt = tmp_path / 'centres.pt'
    torch.save({'centres': torch.from_numpy(centres)}, pt)
    bank2 = PrototypeBank(num_classes=2, dim=3, num_slots=2, update='fixed', path=str(pt))
    assert torch.equal(bank2.protos, bank.protos)
    # (C, D) is accepted for class-wise banks
    cw = tmp_path / 'cw.npy'
    np.save(cw, centres[:, 0])
    bank3 = PrototypeBank(num_classes=2, dim=3, update='fixed', path=str(cw))
    assert torch.equal(bank3.protos[:, 0], torch.from_numpy(centres[:, 0]))
    with pytest.raises(ValueError, match=r'centres\.npy.*\(2, 2, 3\).*\(3, 2, 3\)'):
        PrototypeBank(num_classes=3, dim=3, num_slots=2, update='fixed', path=str(npy))


def test_fixed_refuses_pickle(tmp_path):
    bad = tmp_path / 'obj.npy'
    np.save(bad, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match='obj.npy'):
        PrototypeBank(num_classes=1, dim=1, update='fixed', path=str(bad))

    class Evil:

        def __reduce__(self):
            return (print, ('ran code', ))

    evil = tmp_path / 'evil.pt'
    torch.save(Evil(), evil)
    with pytest.raises(ValueError, match='evil.pt'):
        PrototypeBank(num_classes=1, dim=1, update='fixed', path=str(evil))
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        PrototypeBank(num_classes=1, dim=1, update='fixed', path=str(tmp_path / 'missing.npy'))


def test_state_dict_round_trip_resumes():
    bank = PrototypeBank(num_classes=2, dim=2, num_slots=3, update='fifo', fifo_blend=0.5)
    bank.write(_t([[[2., 2.], [4., 4.]]]), torch.tensor([[1, 1]]))
    bank.write(_t([[[6., 6.], [0., 0.]]]), torch.tensor([[1, 0]]))
    state = bank.state_dict()
    assert set(state) == {'protos', 'count', 'ptr'}
    fresh = PrototypeBank(num_classes=2, dim=2, num_slots=3, update='fifo', fifo_blend=0.5)
    fresh.load_state_dict(state)
    for name in state:
        assert torch.equal(getattr(fresh, name), getattr(bank, name))
    # the resumed bank continues at the same pointer
    fresh.write(_t([[[8., 8.], [0., 0.]]]), torch.tensor([[1, 0]]))
    assert fresh.ptr.tolist() == [0, 1]
    assert fresh.protos[0, 2].tolist() == [4., 4.]  # 0.5 * 0 + 0.5 * 8


def test_gather_on_one_process_is_a_no_op():
    from mmwsss.models.prototypes.bank import _gather_rows
    a, b = torch.randn(3, 2, 4), torch.ones(3, 2, dtype=torch.bool)
    ga, gb = _gather_rows(a, b)
    assert ga is a and gb is b
    bank = PrototypeBank(num_classes=2, dim=4, update='keep_last', gather=True)
    bank.write(a[:1], b[:1])
    assert torch.equal(bank.protos[:, 0], a[0])


def test_similarity_reductions_and_validity():
    bank = PrototypeBank(num_classes=2, dim=2, num_slots=2, update='fifo')
    # class 0: slots (1, 0), (0, 1); class 1: one slot (1, 1), the other never written
    bank.write(_t([[[1., 0.], [1., 1.]], [[0., 1.], [0., 0.]]]), torch.tensor([[1, 1], [1, 0]]))
    feats = _t([[1., 0.], [0., 0.], [2., 0.]]).t().reshape(1, 2, 1, 3)  # pixels (1,0) (0,0) (2,0)
    feats[0, :, 0, 1] = _t([0., 3.])  # pixel 1 = (0, 3)
    full = bank.similarity(feats, reduce=None)
    assert full.shape == (1, 2, 2, 1, 3)
    r = 0.5**0.5
    assert torch.allclose(full[0, 0, :, 0], _t([[1., 0., 1.], [0., 1., 0.]]))
    assert torch.allclose(full[0, 1, 0, 0], _t([r, r, r]))
    assert torch.equal(full[0, 1, 1], torch.zeros(1, 3))  # never written: 0
    mean = bank.similarity(feats, reduce='mean')
    assert torch.allclose(mean[0, 0, 0], _t([.5, .5, .5]))
    assert torch.allclose(mean[0, 1, 0], _t([r, r, r]))  # only the valid slot counts
    mx = bank.similarity(feats, reduce='max')
    assert torch.allclose(mx[0, 0, 0], _t([1., 1., 1.]))
    assert torch.allclose(mx[0, 1, 0], _t([r, r, r]))
    # the same as cosine_maps on the flat table
    ref = cosine_maps(feats, bank.flat()).view(1, 2, 2, 1, 3)
    assert torch.allclose(bank.similarity(feats, reduce=None, valid_only=False), ref)


def test_cluster_two_obvious_groups_seeded():
    bank = PrototypeBank(num_classes=2, dim=2, num_slots=4, update='fifo')
    pts = _t([[0., 0.], [0., 2.], [10., 10.], [10., 12.]])
    for p in pts:
        bank.write(torch.stack([p, -p]).unsqueeze(0), torch.tensor([[1, 1]]))
    c = bank.cluster(2, seed=0)
    assert c.shape == (2, 2, 2)
    got = sorted(c[0].tolist())
    assert np.allclose(got, [[0., 1.], [10., 11.]])
    assert np.allclose(sorted(c[1].tolist()), [[-10., -11.], [0., -1.]])
    assert torch.equal(bank.cluster(2, seed=0), c)  # deterministic
    # cosine k-means: rows normalised first; (1, 0), (3, 0), (0, 1), (0, 5) are two
    # directions, so the centres are exactly the two unit vectors
    cos = PrototypeBank(num_classes=1, dim=2, num_slots=4, update='fifo')
    for p in _t([[1., 0.], [3., 0.], [0., 1.], [0., 5.]]):
        cos.write(p.view(1, 1, 2), torch.tensor([[1]]))
    assert np.allclose(sorted(cos.cluster(2, normalize=True)[0].tolist()), [[0., 1.], [1., 0.]])
    # without normalising the lengths matter: (0, 5) is alone
    assert [0., 5.] in cos.cluster(2)[0].tolist()


def test_cluster_valid_only_few_rows():
    bank = PrototypeBank(num_classes=1, dim=1, num_slots=5, update='fifo')
    bank.write(_t([[[3.]], [[7.]]]), torch.tensor([[1], [1]]))
    c = bank.cluster(3, valid_only=True)
    assert c[0, :, 0].tolist() == [3., 7., 3.]


def test_errors():
    with pytest.raises(ValueError, match='update'):
        PrototypeBank(2, 2, update='ema')
    with pytest.raises(ValueError, match='path'):
        PrototypeBank(2, 2, update='fixed')
    with pytest.raises(ValueError, match='fifo_blend'):
        PrototypeBank(2, 2, update='momentum', fifo_blend=0.9)
    bank = PrototypeBank(2, 3)
    with pytest.raises(ValueError, match=r'\(B, 2, 3\)'):
        bank.write(torch.zeros(1, 3, 3), torch.ones(1, 3))


def _two_rank_worker(rank, init_file, out_dir):
    import torch.distributed as tdist
    tdist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    try:
        bank = PrototypeBank(num_classes=2, dim=1, num_slots=4, update='fifo')
        # rank 0 holds two images, rank 1 one (a short last batch)
        if rank == 0:
            protos, present = _t([[[1.], [10.]], [[2.], [20.]]]), torch.tensor([[1, 0], [1, 1]])
        else:
            protos, present = _t([[[3.], [30.]]]), torch.tensor([[1, 1]])
        bank.write(protos, present)
        torch.save(bank.state_dict(), f'{out_dir}/rank{rank}.pth')
    finally:
        tdist.destroy_process_group()


def test_gather_two_processes_hold_the_same_bank(tmp_path):
    import torch.multiprocessing as mp

    # fork: the worker lives in this test module, which spawn could not import by name
    mp.start_processes(
        _two_rank_worker,
        args=(str(tmp_path / 'init'), str(tmp_path)),
        nprocs=2,
        start_method='fork')
    s0 = torch.load(tmp_path / 'rank0.pth')
    s1 = torch.load(tmp_path / 'rank1.pth')
    for k in s0:
        assert torch.equal(s0[k], s1[k]), k
    # rank order: class 0 gets 1, 2 (rank 0) then 3 (rank 1); class 1 gets 20 then 30
    assert s0['protos'][0, :, 0].tolist() == [1., 2., 3., 0.]
    assert s0['protos'][1, :, 0].tolist() == [20., 30., 0., 0.]
    assert s0['ptr'].tolist() == [3, 2]
