# CLIMS (root, improved version) on VOC12 train_aug: run_sample.py --train_clims_pass:
# batch 16 (cam_batch_size), 15 epochs (clims_num_epoches; 661 steps each), crop 512,
# resize_long (320, 640), h-flip, lr 2.5e-4 (classifier x10), wd 1e-4, poly 0.9, drop_last.
# The CLIP and the baseline CAM checkpoint are user files (configs/_base_/models/clims_r50.py):
#   python tools/train.py THIS --cfg-options model.loss_terms.0.clip.checkpoint=CLIP_PT \
#       model.backbone.init_cfg.checkpoint=CAM model.cam_heads.clims.init_cfg.checkpoint=CAM
# CAM seeds (make_clims + eval_cam, VOC train, bg 0.15 / sweep):
#   clims-seeds_r50_1xb16-15e_voc12aug-512x512.py; IRN: clims-irlabels_*, clims-rw_*.
_base_ = [
    '../_base_/models/clims_r50.py',
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
]
max_epochs = 15
train_dataloader = dict(batch_size=16, drop_last=True)
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
log_processor = dict(by_epoch=True)
# the official seed is commented out (no seeding); 0 here
randomness = dict(seed=0)
