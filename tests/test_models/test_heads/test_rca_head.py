"""RCA heads: aggregation by hand, per-epoch clustering, memory in the checkpoint."""
import torch
from mmengine.logging import MessageHub

from mmwsss.models.heads.rca_head import RCACoarseHead, RCAHead, rca_aggregate


def _head(**kw):
    cfg = dict(
        in_channels=4,
        num_classes=3,
        channels=2,
        inter_channels=4,
        num_clusters=2,
        queue_len=5,
        iters_per_epoch=3)
    cfg.update(kw)
    return RCAHead(**cfg)


def test_aggregate_by_hand_no_softmax():
    x = torch.tensor([1.0, 2.0]).view(1, 2, 1, 1)
    q = torch.nn.Conv2d(2, 2, 1, bias=False)
    q.weight.data = torch.eye(2).view(2, 2, 1, 1)
    k = torch.nn.Linear(2, 2, bias=False)
    k.weight.data = torch.eye(2)
    v = torch.nn.Linear(2, 2, bias=False)
    v.weight.data = torch.eye(2)
    centres = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # sim = (1, 2) * 2 = (2, 4); out = 2 * (1, 0) + 4 * (0, 1) = (2, 4)
    out = rca_aggregate(x, centres, q, k, v, scale=2.0)
    assert out.flatten().tolist() == [2.0, 4.0]


def test_shapes_and_loss():
    head, coarse = _head(), RCACoarseHead(in_channels=4, num_classes=3, channels=2)
    x = (torch.randn(2, 4, 5, 7), )
    logits, cams = head(x)
    assert logits.shape == (2, 3) and cams.shape == (2, 3, 5, 7)
    assert torch.allclose(logits, cams.mean((2, 3)))
    lc, cc = coarse(x)
    assert cc.shape == (2, 3, 5, 7)
    out = head.loss_from_labels(logits, torch.tensor([[1., 0, 1], [0, 1, 0]]))
    assert 'loss_cls' in out and 'acc_cls' in out
    assert head.project(x[0]).shape == (2, 4, 5, 7)
    assert len(head.extra_convs) == 3  # one head per class, as extra_convs0..2


def test_clusters_at_each_epoch_start_once_and_resume():
    hub = MessageHub.get_current_instance()
    head = _head()
    head.train()
    before = head.centres.clone()
    x = (torch.randn(1, 4, 2, 2), )
    for it in (0, 1, 2):  # epoch 0: never
        hub.update_info('iter', it)
        head(x)
    assert torch.equal(head.centres, before) and int(head.cluster_epoch) == -1
    hub.update_info('iter', 3)  # epoch 1 starts: cluster the (random) queues
    head(x)
    assert int(head.cluster_epoch) == 1 and not torch.equal(head.centres, before)
    after = head.centres.clone()
    head.memory.protos.add_(1.0)  # the memory changes within the epoch ...
    hub.update_info('iter', 4)
    head(x)
    assert torch.equal(head.centres, after)  # ... but epoch 1 is clustered only once
    # a resumed head knows epoch 1 is done; epoch 2 clusters again
    fresh = _head()
    fresh.load_state_dict(head.state_dict())
    fresh.train()
    hub.update_info('iter', 5)
    fresh(x)
    assert torch.equal(fresh.centres, after)
    hub.update_info('iter', 6)
    fresh(x)
    assert int(fresh.cluster_epoch) == 2
    # eval never clusters
    fresh.eval()
    hub.update_info('iter', 9)
    fresh(x)
    assert int(fresh.cluster_epoch) == 2
    hub.update_info('iter', 0)


def test_memory_is_rca_fifo_and_saved():
    head = _head(write_blend=0.99)
    assert head.memory.update == 'fifo' and head.memory.fifo_blend == 0.99
    assert head.memory.protos.shape == (3, 5, 4)
    keys = head.state_dict().keys()
    for k in ('memory.protos', 'memory.ptr', 'memory.count', 'centres', 'cluster_epoch'):
        assert k in keys
    # seeded random initial queues: the same on every rank
    assert torch.equal(_head().memory.protos, head.memory.protos)
