# IRN's CAM-classifier recipe (reference methods-consistency §1.2): SGD lr 0.1,
# classifier x10, wd 1e-4, poly power 0.9 per iteration.
# Official code quirk (§0.1): its PolyOptimizer passes weight_decay positionally,
# so it really runs SGD with momentum=1e-4 (wd from the param groups). The paper's
# intent, plain SGD with weight decay, is the default: momentum=0. To reproduce
# the quirk exactly set optim_wrapper.optimizer.momentum=1e-4.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.0, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'decode_head': dict(lr_mult=10.0)}))
