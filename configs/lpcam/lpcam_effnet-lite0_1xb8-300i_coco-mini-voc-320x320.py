# LPCAM on coco-mini (VOC label space), CPU-sized: the offline path on the trained CAM
# baseline configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py
# (EfficientNet-Lite0, OS16, head from ImageNet; checkpoint
# work_dirs/cam-inhead_coco-mini/iter_300.pth). Nothing is trained here: LPCAM adds no
# training, so the CPU config is the baseline's network plus the offline step.
# Clustering uses the VOC defaults (20 VOC classes, the whole train split, 104 images:
# K 12, select_thres 0.1, class_thres 0.9, context 0.05 < p < 0.9); features are the
# 1280-d head input at the coco-mini test resolution (long side 320).
#   python tools/make_prototype_cams.py THIS_CONFIG work_dirs/cam-inhead_coco-mini/iter_300.pth \
#       --work-dir work_dirs/lpcam_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python tools/test.py THIS_CONFIG work_dirs/cam-inhead_coco-mini/iter_300.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --cfg-options model.prototype_dir=work_dirs/lpcam_coco-mini/prototypes
_base_ = ['../cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
model = dict(
    type='LPCAMClassifier',
    prototype_dir=None,
    cam_source='lpcam',
    scale_merge='mean',
    test_cfg=dict(preset='irn', bg_thr=0.3))
prototype_cfg = dict(dataset='voc')
prototype_dump_dataloader = {{_base_.pseudo_label_dataloader}}
