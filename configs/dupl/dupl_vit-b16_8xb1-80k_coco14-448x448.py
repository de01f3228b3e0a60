# DuPL with ViT-B/16 (IN-21k) on COCO 2014 (80 classes): 8 GPUs x 1, 80k iterations (README:
# val 44.6 MS+CRF). COCO script (train_final_coco.py), by n_iter:
#   <= 8000        cls only (PTC, seg and sim weighted 0)
#   (8000, 12000]  + seg 0.2 on PAR labels of the AUX CAM with fixed bg (0.65, 0.25), sim 0.05
#   > 12000        + PTC 0.2; seg labels from the final CAM with the dynamic high threshold
#                  (cosine 0.65 -> 0.55 for every class over 12000-80000), reg weight 0.05
#   >= 32000       GMM filter on, and the strong-view reg loss is computed (0 before)
# bkg 0.45, high 0.65, low 0.25; aux block 9 of 12 (= -3).
_base_ = [
    '../_base_/datasets/coco14.py',
    '../_base_/default_runtime.py',
    '../_base_/models/dupl_vit-b16.py',
]
data_root = 'data/coco14'
pretrained = 'checkpoints/vit-b16_in21k_mmwsss.pth'
crop_size = (448, 448)
max_iters = 80000
batch_size = 1  # per GPU (DuPL COCO: samples_per_gpu 1)
num_fg_classes = 80
bkg_thr, high_thr, low_thr = 0.45, 0.65, 0.25
cam_iters, ptc_iters, gmm_iters = 8000, 12000, 32000
cam_ms = dict(preset='toco')
# cosine_descent(0.65, 0.55, n_iter - 12000, 80000 - 12000): t = (it - 12000) / 67999
dynamic_high = dict(
    type='CosineDescent',
    begin=ptc_iters,
    end=max_iters - 1,
    begin_value=high_thr,
    end_value=[0.55] * num_fg_classes)
_par = dict(
    type='PARRefiner',
    bg_high=high_thr,
    bg_low=low_thr,
    num_iter=10,
    dilations=(1, 2, 4, 8, 12, 24))
_init = dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained))
_cls = dict(num_classes=num_fg_classes)

model = dict(
    data_preprocessor=dict(num_classes=num_fg_classes),
    view_passes=dict(strong1=dict(start=gmm_iters), strong2=dict(start=gmm_iters)),
    branches=dict(
        b1=dict(
            backbone=_init,
            cam_heads=dict(cam1=_cls, aux1=_cls),
            decode_head=dict(num_classes=num_fg_classes + 1)),
        b2=dict(
            backbone=_init,
            cam_heads=dict(cam2=_cls, aux2=_cls),
            decode_head=dict(num_classes=num_fg_classes + 1))),
    label_sources=dict(
        _delete_=True,
        a1=dict(
            type='CAMLabelSource',
            cam='aux1',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, dynamic_high)),
        a2=dict(
            type='CAMLabelSource',
            cam='aux2',
            multi_scale=cam_ms,
            size='cam',
            bg_thr=bkg_thr,
            ignore_band=(low_thr, dynamic_high)),
        # (8000, 12000]: refine_cams_with_bkg_v2 of the aux CAM, fixed bg (0.65, 0.25)
        la1=dict(type='CAMLabelSource', cam='aux1', multi_scale=cam_ms, refiner=_par),
        la2=dict(type='CAMLabelSource', cam='aux2', multi_scale=cam_ms, refiner=_par),
        l1=dict(
            type='CAMLabelSource',
            cam='cam1',
            multi_scale=cam_ms,
            refiner=_par,
            refiner_thr=dict(bg_high=dynamic_high)),
        l2=dict(
            type='CAMLabelSource',
            cam='cam2',
            multi_scale=cam_ms,
            refiner=_par,
            refiner_thr=dict(bg_high=dynamic_high)),
        l1_gmm=dict(
            type='GMMNoiseFilter',
            branch='b1',
            label='l1',
            schedule=dict(type='StepOn', start=gmm_iters, strict=False)),
        l2_gmm=dict(
            type='GMMNoiseFilter',
            branch='b2',
            label='l2',
            schedule=dict(type='StepOn', start=gmm_iters, strict=False))),
    loss_terms=[
        dict(type='ClsTerm', name='cls1', cam='cam1'),
        dict(type='ClsTerm', name='cls_aux1', cam='aux1'),
        dict(type='ClsTerm', name='cls2', cam='cam2'),
        dict(type='ClsTerm', name='cls_aux2', cam='aux2'),
        dict(
            type='PTCTerm',
            name='ptc1',
            branch='b1',
            label='a1',
            weight=0.2,
            schedule=dict(type='StepOn', start=ptc_iters),
            skip_when_off=True),
        dict(
            type='PTCTerm',
            name='ptc2',
            branch='b2',
            label='a2',
            weight=0.2,
            schedule=dict(type='StepOn', start=ptc_iters),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg_early1',
            branch='b1',
            label='la2',
            loss='bg_fg',
            weight=0.2,
            schedule=dict(type='Window', start=cam_iters, end=ptc_iters),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg_early2',
            branch='b2',
            label='la1',
            loss='bg_fg',
            weight=0.2,
            schedule=dict(type='Window', start=cam_iters, end=ptc_iters),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg1',
            branch='b1',
            label='l2_gmm',
            loss='bg_fg',
            weight=0.2,
            schedule=dict(type='StepOn', start=ptc_iters),
            skip_when_off=True),
        dict(
            type='SegTerm',
            name='seg2',
            branch='b2',
            label='l1_gmm',
            loss='bg_fg',
            weight=0.2,
            schedule=dict(type='StepOn', start=ptc_iters),
            skip_when_off=True),
        dict(
            type='DiscrepancyTerm',
            name='sim',
            branches=('b1', 'b2'),
            weight=0.05,
            schedule=dict(type='StepOn', start=cam_iters),
            skip_when_off=True),
        # weight 0.05 from n_iter > 12000, but the loss is only computed from n_iter >= 32000
        dict(
            type='StrongConsistencyTerm',
            name='reg1',
            branch='b1',
            label='l2_gmm',
            pass_name='strong1',
            view='strong',
            weight=0.05,
            schedule=dict(type='StepOn', start=gmm_iters, strict=False),
            skip_when_off=True),
        dict(
            type='StrongConsistencyTerm',
            name='reg2',
            branch='b2',
            label='l1_gmm',
            pass_name='strong2',
            view='strong',
            weight=0.05,
            schedule=dict(type='StepOn', start=gmm_iters, strict=False),
            skip_when_off=True),
    ],
    test_cfg=dict(cam=dict(preset='toco', bg_thr=bkg_thr)))

# CocoClsDataset(aug=True): rescale 0.5-2, flip, crop 448
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='mmseg.RandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='PackWSSSInputs'),
]
# validate_siamase_coco() resizes every image to 448x448
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
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='PolyWarmupLR',
        warmup_iters=1500,
        warmup_ratio=1e-6,
        max_iters=max_iters,
        power=0.9,
        by_epoch=False),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=200, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=2))
randomness = dict(seed=0)
