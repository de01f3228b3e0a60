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
