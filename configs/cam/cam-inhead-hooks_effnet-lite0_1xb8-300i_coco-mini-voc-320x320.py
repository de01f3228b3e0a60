# The coco-mini CAM baseline (cam-inhead_...) with the three CAM hooks (docs/en/hooks.md):
# the seed mIoU while it trains, the CAMs of two fixed images as pictures, and the pseudo
# labels written at the end by the run itself. Model, data and schedule are the parent's.
#
#   python3 tools/train.py \
#       configs/cam/cam-inhead-hooks_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
#
# Cost. One pass of the parent's test_cfg (IRN: 4 scales x flip) over the 104 training
# images costs about 40% of the 300 training iterations on a CPU, so the periodic
# evaluation scores single-scale seeds (cam_cfg: scales [1.0], no flip; about 8% of the
# training per pass) after iterations 150 and 300: under 20% of the training in all. Its
# number is tools/test.py's on the same checkpoint with
#   --cfg-options "model.test_cfg.scales=[1.0]" model.test_cfg.flip=False
# and tools/test.py on the parent config (full test_cfg) gives the reported seed mIoU.
# The CAM pictures (2 images, single scale, every 50 iterations) cost about 1%; the pseudo
# labels after training cost what tools/generate_pseudo_labels.py costs (the same code).
# Each hook logs how long it took; best_cam_mIoU_iter_N.pth keeps the best weights.
_base_ = ['./cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']

_single_scale = dict(scales=[1.0], flip=False)
custom_hooks = [
    dict(
        type='CAMEvalHook',
        interval=150,
        dataloader='pseudo_label',  # the 104 training images with their masks
        cam_cfg=_single_scale,
        save_best=True),
    dict(
        type='CAMVisualizationHook',
        interval=50,
        indices=(0, 1),
        cam_cfg=_single_scale,
        tile_width=160),
    # after training: <work_dir>/pseudo_labels/<key>.png with cfg.pseudo_label_cfg, at the
    # best threshold of the CAMEvalHook sweep that ran at the last iteration (single-scale
    # CAMs: close to, not exactly, the full test_cfg's best)
    dict(type='PseudoLabelHook', bg_thr_from='cam/bg_thr'),
]

# The pipeline run of this config uses the hooks' outputs: stage 1 logs its seed curve and
# writes the labels itself (label_out), the seeds step scores the full test_cfg, stage 2 is
# the shared DeepLabV3+ config on the hook's labels:
#   python3 tools/run_pipeline.py THIS_CONFIG --data-root /tmp/mmwsss_cache/coco-mini-voc
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(
    _delete_=True,
    steps=[
        dict(name='stage1', kind='train', config='this', label_out='{out}/pseudo_labels'),
        dict(name='seeds', kind='test', config='this', checkpoint='stage1', role='seeds'),
        dict(name='label_eval', kind='eval_labels', config='this', labels='stage1'),
        dict(name='stage2', kind='train', config=_seg, labels='stage1'),
        dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2', role='final'),
    ])
