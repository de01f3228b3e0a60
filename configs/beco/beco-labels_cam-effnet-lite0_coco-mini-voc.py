# BECO's offline pseudo labels + confidence masks on coco-mini, from the CPU CAM baseline
# (configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py, its iter_300.pth).
# BECO uses IRN random-walk labels; on the CPU the IRN chain (IR labels -> IRN training ->
# walk) is replaced by the CAM seeds at the seeds' best background threshold (0.42, the
# threshold behind the CAM stage-2 baseline of configs/cam/README.md), and the margin rule of
# BECO's gen_mask.py is applied to the CAM scores with the background padded at 0.42.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT \
#       --out-dir work_dirs/beco_coco-mini/pseudo_labels
# writes <key>.png (labels) and conf_mask/<key>.png (1 = confident). The IRN route is
# configs/beco/beco-labels_irn-rw_cam-effnet-lite0_coco-mini-voc.py.
_base_ = ['../cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
pseudo_label_cfg = dict(
    refiners=[dict(type='MarginConfidenceMask', keep_ratio=0.5, bg_thr=0.42)],
    bg_thr=0.42,
    extra_maps=dict(conf_mask='conf_mask'))
