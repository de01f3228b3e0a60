# PBIP on BCSS-WSSS, the released recipe (QingchenTang/PBIP work_dirs/bcss/classification/
# config.yaml): MiT-B1, batch 10, 8 epochs, AdamW lr 5e-5 betas (0.9, 0.999) wd 1e-3, poly
# power 1.0 without warm-up, validation every epoch, best checkpoint by the fused tissue mIoU.
# Needs: the MiT-B1 weights, the MedCLIP vision weights and the prototype file (README).
_base_ = [
    '../_base_/datasets/bcss-wsss.py',
    '../_base_/default_runtime.py',
    '../_base_/models/pbip_mit-b1.py',
    '../_base_/schedules/pbip_adamw_8e.py',
]
default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=True,
        interval=1,
        max_keep_ckpts=1,
        save_best='mIoU',
        rule='greater'),
    logger=dict(type='LoggerHook', interval=100, log_metric_by_epoch=False),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=True)
randomness = dict(seed=42)  # train_stage_1.py: set_seed(42) inside train()
