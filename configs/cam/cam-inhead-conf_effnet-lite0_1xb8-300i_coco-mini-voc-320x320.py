# Pseudo labels of the coco-mini CAM baseline WITH a per-pixel confidence map next to each
# label (docs/en/confidence_labels.md). The model, its checkpoint and the label are those of
# the quickstart (configs/cam/cam-inhead_..., iter_300.pth, CAM seeds at the seeds' best
# background threshold 0.42); `LabelConfidence` adds confidence/<key>.png (uint8 0-255,
# 0 where the label is ignore) from the refine state's final scores, here the CAMs with the
# background padded at 0.42, i.e. the scores behind cam_to_label(cams, 0.42):
#   python3 tools/generate_pseudo_labels.py THIS_CONFIG \
#       work_dirs/cam-inhead_coco-mini/iter_300.pth \
#       --out-dir work_dirs/cam-inhead-conf_coco-mini/pseudo_labels \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
# The labels are the ones `--bg-thr 0.42` writes with the plain config. LabelConfidence
# writes the label itself, so change the threshold with
# `--cfg-options pseudo_label_cfg.refiners.0.bg_thr=T pseudo_label_cfg.bg_thr=T` (not
# --bg-thr, which the refiner does not see), and the measure with
# `pseudo_label_cfg.refiners.0.mode=entropy` (1 - H / log K instead of the top-1 - top-2
# margin). Stage 2 reads them with
# configs/cam/deeplabv3plus-confweight_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py.
_base_ = ['./cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
bg_thr = 0.42
pseudo_label_cfg = dict(
    refiners=[dict(type='LabelConfidence', mode='margin', bg_thr=bg_thr)],
    bg_thr=bg_thr,
    extra_maps=dict(confidence='confidence'))

# The comparison of docs/en/confidence_labels.md §3 as ONE pipeline run:
#   python3 tools/run_pipeline.py THIS_CONFIG --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --checkpoint stage1=work_dirs/cam-inhead_coco-mini/iter_300.pth
# stage 1 and the seeds are the quickstart's (the labels take the seeds' swept threshold,
# handed to the confidence refiner, which writes the label itself); the same DeepLabV3+
# stage 2 then trains on (a) the plain labels, (b) the same PNGs with their confidence
# weights, (c) the ground-truth masks of the same training images, each scored on val.
# (c) is the full-supervision reference (role 'reference'); the headline stage-2 number of
# the summary is (b), the step table shows all three.
_cam = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
_seg_conf = ('configs/cam/deeplabv3plus-confweight_effnet-lite0_1xb8-300i_'
             'coco-mini-voc-pl-cam-320x320.py')
_seg_gt = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-gt-320x320.py'
wsss_recipe = dict(
    _delete_=True,
    steps=[
        dict(name='stage1', kind='train', config=_cam),
        dict(name='seeds', kind='test', config=_cam, checkpoint='stage1', role='seeds'),
        dict(
            name='pseudo_labels',
            kind='labels',
            config='this',
            checkpoint='stage1',
            cfg_options={
                'pseudo_label_cfg.refiners.0.bg_thr': '{bg_thr:seeds}',
                'pseudo_label_cfg.bg_thr': '{bg_thr:seeds}'
            }),
        dict(name='label_eval', kind='eval_labels', config='this', labels='pseudo_labels'),
        dict(name='stage2_gt', kind='train', config=_seg_gt),
        dict(
            name='stage2_gt_val',
            kind='test',
            config=_seg_gt,
            checkpoint='stage2_gt',
            role='reference'),
        dict(name='stage2_plain', kind='train', config=_seg, labels='pseudo_labels'),
        dict(
            name='stage2_plain_val',
            kind='test',
            config=_seg,
            checkpoint='stage2_plain',
            role='reference'),
        dict(name='stage2_conf', kind='train', config=_seg_conf, labels='pseudo_labels'),
        dict(
            name='stage2_conf_val',
            kind='test',
            config=_seg_conf,
            checkpoint='stage2_conf',
            role='final'),
    ])
