# Offline IR labels (IRN cam_to_ir_label.py): argmax of [bg 0.30, cams] (fg-
# confident) and of [bg 0.05, cams] (bg-confident), each refined by a dense CRF
# with a label unary (crf_inference_label: t 10, gt_prob 0.7, gaussian 3/3,
# bilateral 50/5/10); conf = fg-confident label, 255 where it is bg, 0 where both
# are bg.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT \
#       --out-dir data/VOCdevkit/VOC2012/ir_labels
_base_ = ['../cam/cam_r50_1xb16-5e_voc12aug-512x512.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRLabel',
        fg_thr=0.30,
        bg_thr=0.05,
        crf=dict(type='DenseCRF', preset='irn_label', output='label')),
])
