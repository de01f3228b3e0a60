# RS-TextWS-Seg stage 1, CPU-sized, on coco-mini (VOC label space) with a RANDOM tiny CLIP (no
# CLIP weights exist on this machine): a plumbing check of the three-stage chain, not a result.
# Scaled from rs-textws-seg_vit-b16_1xb16-10k_isaid-448x448.py:
#   CLIP      ViT-B/16 (12 blocks) -> open_clip TINY_CLIP_CFG, random (3 blocks, 64-d, patch 16);
#             train_blocks 4 of 12 -> 1 of 3 (the same last third)
#   input     448 -> 224 (no crop, as the full config), batch 16 -> 8
#   schedule  10k -> 100 iterations (7.7 epochs of the 104 images), warm-up 500 -> 5, same
#             optimiser and lr (nothing tuned to coco-mini)
# The random base weights cannot be rebuilt by stage 2, so the checkpoint keeps them too
# (save_frozen='auto'). Run (then stage 2 and 3, see the README):
#   python3 tools/train.py \
#       configs/rs_textws_seg/rs-textws-seg_tiny-clip-random_1xb8-100i_coco-mini-voc-224x224.py \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/rs-textws-seg_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
crop_size = (224, 224)
max_iters = 100
warmup_iters = 5
batch_size = 8
work_dir = 'work_dirs/rs-textws-seg_coco-mini'
# -----------------------------
# = mmwsss.models.foundation.TINY_CLIP_CFG
tiny_clip = dict(
    _delete_=True,
    type='OpenCLIP',
    quick_gelu=True,
    arch=dict(
        embed_dim=32,
        vision_cfg=dict(image_size=64, layers=3, width=64, patch_size=16, head_width=32),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2)))
voc_names = [
    'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa', 'train',
    'tv monitor'
]
model = dict(
    data_preprocessor=dict(size=crop_size),
    clip=tiny_clip,
    clip_checkpoint=None,
    class_names=voc_names,
    train_blocks=1)
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(
    batch_size=batch_size,
    num_workers=2,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
pseudo_label_dataloader = None
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
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)

# tools/run_pipeline.py: the three stages as one recipe (stage 2 reads the stage-1 tensors
# through model.finetuned.checkpoint; its pseudo labels keep CLIP-ES's CRF + confidence cut)
_cam = ('configs/rs_textws_seg/'
        'rs-textws-seg-cam_tiny-clip-random_1xb1-trainfree_coco-mini-voc-ori.py')
_seg = ('configs/rs_textws_seg/'
        'deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-rs-textws-seg-320x320.py')
wsss_recipe = dict(steps=[
    dict(name='stage1', kind='train', config='this'),
    dict(
        name='seeds',
        kind='test',
        config=_cam,
        checkpoint='stage1',
        checkpoint_key='model.finetuned.checkpoint'),
    dict(
        name='pseudo_labels',
        kind='labels',
        config=_cam,
        checkpoint='stage1',
        checkpoint_key='model.finetuned.checkpoint'),
    dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config=_cam),
    dict(name='stage2', kind='train', config=_seg, labels='pseudo_labels'),
    dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2'),
])
