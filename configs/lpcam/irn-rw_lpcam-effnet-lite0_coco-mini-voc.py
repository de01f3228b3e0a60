# IRN random walk on LPCAMs (make_sem_seg_labels.py with LPCAM's sem_seg_bg_thres 0.35;
# beta 10, exp_times 8, radius 5). The IRN network is trained on the LPCAM IR labels
# (irn-labels_lpcam-effnet-lite0_coco-mini-voc.py) with
# configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir OUT \
#       --cfg-options model.prototype_dir=PROTO_DIR \
#       pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['./lpcam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRNRandomWalk',
        model=dict(
            config='configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py',
            checkpoint='work_dirs/irn_lpcam_coco-mini/iter_300.pth'),
        beta=10,
        exp_times=8,
        radius=5,
        bg_thr=0.35,
        mode='local'),
])
