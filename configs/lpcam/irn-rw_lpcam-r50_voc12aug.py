# IRN random walk on LPCAMs (make_sem_seg_labels.py with LPCAM's sem_seg_bg_thres 0.35;
# beta 10, exp_times 8, radius 5). The IRN network is trained on the LPCAM IR labels
# (irn-labels_lpcam-r50_voc12aug.py) with
# configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir OUT \
#       --cfg-options model.prototype_dir=PROTO_DIR \
#       pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['./lpcam_r50_1xb16-5e_voc12aug-512x512.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRNRandomWalk',
        model=dict(
            config='configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py',
            checkpoint='work_dirs/irn_lpcam_voc/epoch_3.pth'),
        beta=10,
        exp_times=8,
        radius=5,
        bg_thr=0.35,
        size_divisor=512,  # IRN pads every image to its 512 crop
        mode='local'),
])
