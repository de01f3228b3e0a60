# Offline IR labels on coco-mini from the CPU CAM baseline (IRN cam_to_ir_label:
# bg 0.30 / 0.05, CRF with a label unary).
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT \
#       --out-dir data/coco-mini-voc/ir_labels
_base_ = ['../cam/cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRLabel',
        fg_thr=0.30,
        bg_thr=0.05,
        crf=dict(type='DenseCRF', preset='irn_label', output='label')),
])
