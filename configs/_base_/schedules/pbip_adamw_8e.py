# PBIP's schedule (QingchenTang/PBIP config.yaml + utils/optimizer.py PolyWarmupAdamW with
# warmup_iter 0): AdamW lr 5e-5, betas (0.9, 0.999), wd 1e-3, poly power 1.0, 8 epochs,
# validation every epoch, best checkpoint by the fused tissue mIoU.
max_epochs = 8
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999), weight_decay=1e-3))
param_scheduler = [
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=0.0,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True),
]
