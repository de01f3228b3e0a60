# ACR with the ViT-Hybrid (R50 + ViT-B/16 at 384, timm `vit_base_r50_s16_384`) on VOC 2012
# train_aug: 4 GPUs x 1 image, 10 epochs = (10,582 // 4) * 10 = 26,450 iterations (train_acr.sh:
# -g 4 --batch_size 1 --max_epoches 10 --crop_size 384 --lr 0.05 --alpha 125). Localisation
# maps on VOC train: 67.3 mIoU (abstract). Weights: convert the timm checkpoint you have with
#   python tools/model_converters/vit_timm.py <vit_base_r50_s16_384 weights>.pth \
#       checkpoints/vit-b16-r50_384_mmwsss.pth --wrapper timm --model-name vit_base_r50_s16_384
# Seeds on VOC train (1,464), as evaluation.py --curve: tools/test.py with
#   --cfg-options test_dataloader.dataset.ann_file=ImageSets/Segmentation/train.txt \
#       test_evaluator.type=CAMMetric \
#       test_dataloader.dataset.data_prefix.seg_map_path=SegmentationClassAug
# NOTE: the hybrid needs TokenViT to count the ResNet stem's stride 16 in its patch size
# (timm HybridEmbed reports patch_size (1, 1)); see configs/acr/README.md.
_base_ = [
    '../_base_/datasets/voc12aug.py',
    '../_base_/default_runtime.py',
    '../_base_/models/acr_vit-b16-r50.py',
]
# ---- frequently modified ----
data_root = 'data/VOCdevkit/VOC2012'
pretrained = 'checkpoints/vit-b16-r50_384_mmwsss.pth'
crop_size = (384, 384)
max_iters = 26450
batch_size = 1  # per GPU (ACR: 4 GPUs x 1)
# -----------------------------
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

# myTool.get_data_from_chunk_v2: RandomResizeLong(345, 438) (cv2 bilinear), flip 0.5,
# ImageNet normalisation, RandomCrop 384 into a zero (post-normalisation) container
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='RandomResizeLong',
        min_long=int(crop_size[0] * 0.9),
        max_long=int(crop_size[0] / 0.875),
        backend='cv2',
        interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
# infer_cam.py: the image at 384 x 384; the CAMs go back to the original size
test_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadWSSSAnnotations'),
    dict(type='PackWSSSInputs'),
]
_data = dict(data_root=data_root)
train_dataloader = dict(
    batch_size=batch_size, num_workers=4, dataset=dict(pipeline=train_pipeline, **_data))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(pipeline=test_pipeline, **_data))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# torchutils.PolyOptimizer: lr0 * (1 - step / max_step) ** 0.9 every step, no warm-up
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=2))
randomness = dict(seed=0)
