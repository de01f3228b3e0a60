# POLE on VOC12 train_aug: run_CLIMS.sh of Ruxie189/WSS_POLE (--hyper 10,25,1,0,
# --clims_num_epoches 15, --train_list voc12/train_aug.txt, --cam_eval_thres 0.15); the
# remaining settings come from CLIMS's run_sample.py (POLE's run_sample.py is missing):
# batch 16, crop 512, resize_long (320, 640), h-flip, lr 2.5e-4 (classifier x10),
# wd 1e-4, poly 0.9, drop_last. User files: the CLIP ViT-B/32, the baseline CAM.
#   1. python tools/pole_select_prompts.py THIS CAM_CKPT \
#          --out work_dirs/pole_r50_voc12aug/prompts.json
#   2. python tools/train.py THIS --cfg-options model.loss_terms.0.clip.checkpoint=CLIP_PT \
#          model.backbone.init_cfg.checkpoint=CAM_CKPT \
#          model.cam_heads.clims.init_cfg.checkpoint=CAM_CKPT
#   3. seeds: pole-seeds_r50_1xb16-15e_voc12aug-512x512.py; IRN: pole-irlabels_*, pole-rw_*.
# (pass the CLIP file to step 1 with --cfg-options pole_selection.clip.checkpoint=CLIP_PT)
_base_ = [
    '../_base_/models/pole_r50.py',
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
