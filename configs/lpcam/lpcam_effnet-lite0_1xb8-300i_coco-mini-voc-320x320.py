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

# tools/run_pipeline.py / tools/benchmark.py: LPCAM's offline chain (README "How to run"),
# replacing the CAM baseline's inherited recipe (LPCAM trains nothing of its own).
#   cam            the coco-mini CAM baseline (reuse work_dirs/cam-inhead_coco-mini/iter_300.pth)
#   prototypes     tools/make_prototype_cams.py: feature dump -> k-means prototypes -> LPCAMs;
#                  every later step reads them through model.prototype_dir
#   seeds          tools/test.py of this config: the LPCAM seeds, CAMMetric threshold sweep
#   ir_labels      LPCAM's IR labels (conf_fg 0.45 / conf_bg 0.25) from the LPCAMs
#   irn            the coco-mini IRN (configs/irn) trained on them (--pseudo-label-dir)
#   pseudo_labels  IRN's random walk of the LPCAMs (sem_seg_bg_thres 0.35, fixed: LPCAM's
#                  own value, not the sweep's)
#   stage2         the shared DeepLabV3+ stage 2 of every coco-mini row, then its val test
_this = 'configs/lpcam/lpcam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_cam = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_ir_labels = 'configs/lpcam/irn-labels_lpcam-effnet-lite0_coco-mini-voc.py'
_rw = 'configs/lpcam/irn-rw_lpcam-effnet-lite0_coco-mini-voc.py'
_irn = 'configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py'
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
_protos = {'model.prototype_dir': '{dir:prototypes}/prototypes'}
wsss_recipe = dict(
    _delete_=True,
    steps=[
        dict(name='cam', kind='train', config=_cam),
        dict(
            name='prototypes',
            kind='tool',
            script='tools/make_prototype_cams.py',
            args=[_this, '{checkpoint:cam}', '--work-dir', '{out}', '--data-root', '{data_root}']),
        dict(
            name='seeds',
            kind='test',
            config=_this,
            checkpoint='cam',
            cfg_options=_protos,
            role='seeds'),
        dict(
            name='ir_labels',
            kind='labels',
            config=_ir_labels,
            checkpoint='cam',
            cfg_options=_protos),
        dict(name='irn', kind='train', config=_irn, labels='ir_labels'),
        dict(
            name='pseudo_labels',
            kind='labels',
            config=_rw,
            checkpoint='cam',
            cfg_options=dict(_protos,
                             **{'pseudo_label_cfg.refiners.0.model.checkpoint':
                                '{checkpoint:irn}'})),
        dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config=_rw),
        dict(name='stage2', kind='train', config=_seg, labels='pseudo_labels'),
        dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2', role='final'),
    ])
