# A non-learned baseline for CAM seeds: every labelled class gets the same centred
# Gaussian blob (sigma = 0.25 of the image side). It uses the image labels, as the seed
# protocol allows, and nothing else; learned CAMs must clearly beat it.
#   python tools/test.py configs/cam/center-prior_gaussian_1xb1-trainfree_coco-mini-voc.py
# scores it with the same background-threshold sweep as the learned CAMs (no checkpoint).
_base_ = [
    '../_base_/datasets/coco-mini_voc.py',
    '../_base_/default_runtime.py',
]
data_root = 'data/coco-mini-voc'
model = dict(
    type='CenterPriorCAM',
    num_classes=20,
    sigma=0.25,
    bg_thr=0.5,
    data_preprocessor=dict(
        type='mmseg.SegDataPreProcessor', mean=[0., 0., 0.], std=[1., 1., 1.], bgr_to_rgb=True))
_data = dict(data_root=data_root)
pseudo_label_dataloader = dict(dataset=_data)
# seeds are scored on the training images (the pseudo-label split), with their masks
test_dataloader = dict(
    dataset=dict(data_root=data_root, ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
pseudo_label_cfg = dict(refiners=[], bg_thr=0.5)
# nothing to train
train_dataloader = None
train_cfg = None
optim_wrapper = None
val_dataloader = None
val_cfg = None
val_evaluator = None
test_cfg = dict(type='TestLoop')
default_hooks = dict(visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
