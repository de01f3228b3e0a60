# IR labels from LPCAMs (LPCAM's cam_to_ir_label.py reads lpcam_out_dir): argmax of
# [bg 0.45, LPCAMs] (conf_fg_thres) and of [bg 0.25, LPCAMs] (conf_bg_thres), each refined
# by IRN's label CRF; 255 between. LPCAM's thresholds, not IRN's 0.30 / 0.05.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir IR_LABEL_DIR \
#       --cfg-options model.prototype_dir=PROTO_DIR
_base_ = ['./lpcam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRLabel',
        fg_thr=0.45,
        bg_thr=0.25,
        crf=dict(type='DenseCRF', preset='irn_label', output='label')),
])
