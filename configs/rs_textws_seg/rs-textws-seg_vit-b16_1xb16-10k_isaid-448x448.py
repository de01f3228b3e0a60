# RS-TextWS-Seg stage 1 on iSAID: fine-tune CLIP ViT-B/16 (last 4 image blocks + ln_post +
# proj, text frozen) with CLIP's zero-shot softmax on the image labels derived from the masks.
#   python tools/train.py configs/rs_textws_seg/rs-textws-seg_vit-b16_1xb16-10k_isaid-448x448.py
# The paper's schedule is not in the reference (no code): AdamW with CLIP's betas / eps,
# lr 1e-5, wd 0.1 (the usual CLIP fine-tuning recipe, e.g. WiSE-FT / FLYP), 500 linear warm-up
# iterations then cosine, 10k iterations at batch 16, patches resized to 448 (no crop: a crop
# could drop a labelled object) are all open choices (README). No val loop: stage 2 scores
# the CAMs. Output: work_dirs/rs-textws-seg_isaid/iter_10000.pth (the trained tensors only).
_base_ = [
    '../_base_/datasets/isaid_custom.py',
    '../_base_/default_runtime.py',
    '../_base_/models/rs-textws-seg_vit-b16.py',
]
class_names = ('ship', 'storage tank', 'baseball diamond', 'tennis court', 'basketball court',
               'ground track field', 'bridge', 'large vehicle', 'small vehicle', 'helicopter',
               'swimming pool', 'roundabout', 'soccer ball field', 'plane', 'harbor')
crop_size = (448, 448)
max_iters = 10000
warmup_iters = 500
work_dir = 'work_dirs/rs-textws-seg_isaid'
model = dict(data_preprocessor=dict(size=crop_size), class_names=list(class_names))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-5, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=warmup_iters),
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters - warmup_iters,
        eta_min=0.,
        by_epoch=False,
        begin=warmup_iters,
        end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
val_dataloader = None
val_evaluator = None
val_cfg = None
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
