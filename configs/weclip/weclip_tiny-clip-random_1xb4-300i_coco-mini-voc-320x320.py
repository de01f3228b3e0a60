# WeCLIP, CPU-sized, on coco-mini (VOC label space) with a RANDOM tiny CLIP (no CLIP weights
# exist on this machine): a plumbing check of the whole method end to end (online CLIP-ES CAMs,
# RFM, PAR, decoder, both losses, multi-scale + flip test with CRF); its mIoU is not a result.
# Everything is WeCLIP's VOC recipe except what the missing weights and 2 CPU cores force:
#   CLIP      OpenAI ViT-B/16 (12 blocks, 768-d)  -> open_clip TINY_CLIP_CFG, random weights
#             (3 blocks, 64-d, patch 16): the decoder reads the first 2 blocks (all but the
#             last, as WeCLIP's 11 of 12), the RFM chooses among all 3 maps (VOC: last 6 of 12)
#   crop      320 (official), batch 4 (official)
#   schedule  30k its -> 300 its: WeCLIP's 11.3 epochs (30k x 4 / 10,582) on 104 images at
#             batch 4; warm-up 50 -> 1; RFM after 15000 -> after 150 (the same half)
#   eval      test_msc_flip_voc.py: long side 512, scales (1, 0.75) + flip averaged, CRF
# Cost: 1.9-2.5 CPU-seconds per training step (1 thread, process time; wall time on the shared
# machine at load 10 was 17-27 s), i.e. about 10 min of single-thread CPU for 300 steps, an
# estimated 6-8 min on 2 idle cores; the val pass (105 images, CRF at long side 512) comes on top.
# Run: python3 tools/train.py \
#          configs/weclip/weclip_tiny-clip-random_1xb4-300i_coco-mini-voc-320x320.py \
#          --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/weclip_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
crop_size = (320, 320)
max_iters = 300
rfm_start = 150
batch_size = 4
# -----------------------------
# = mmwsss.models.foundation.TINY_CLIP_CFG
tiny_clip = dict(
    _delete_=True,
    embed_dim=32,
    vision_cfg=dict(image_size=64, layers=3, width=64, patch_size=16, head_width=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2))
model = dict(
    data_preprocessor=dict(size=crop_size),
    branches=dict(
        net=dict(
            backbone=dict(
                backbone=dict(clip=dict(arch=tiny_clip, checkpoint=None, quick_gelu=True))),
            decode_head=dict(in_channels=64, num_layers=2))),
    label_sources=dict(seg=dict(rfm_layers=3, rfm_start=rfm_start)))

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(512, 512), keep_ratio=True),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=2, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='PolyWarmupLR',
        warmup_iters=1,
        warmup_ratio=1e-6,
        max_iters=max_iters,
        power=1.0,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=1)

# tools/run_pipeline.py: WeCLIP is single-stage. Its pseudo labels are the frozen CLIP's
# CLIP-ES CAMs refined online (RFM, PAR) inside the training step, and the decoder it trains
# IS the segmenter, so there is no seeds / offline labels / stage-2 step to declare:
#   stage1       tools/train.py THIS
#   stage1_val   tools/test.py THIS on coco-mini val (multi-scale + flip + CRF): the final
#                (segmenter) mIoU
wsss_recipe = dict(steps=[
    dict(name='stage1', kind='train', config='this'),
    dict(name='stage1_val', kind='test', config='this', checkpoint='stage1', role='final'),
])
