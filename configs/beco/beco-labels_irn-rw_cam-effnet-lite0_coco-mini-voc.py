# BECO's offline labels as in the paper: IRN random walk (beta 10, exp_times 8, radius 5,
# bg 0.25; the refiner of configs/irn/irn-rw_cam-effnet-lite0_coco-mini-voc.py) then the
# margin rule of gen_mask.py on the walk's scores (top 50% per class).
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir DIR \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['../irn/irn-rw_cam-effnet-lite0_coco-mini-voc.py']
pseudo_label_cfg = dict(
    refiners=[
        dict(
            type='IRNRandomWalk',
            model=dict(
                config='configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-'
                '320x320.py',
                checkpoint={{_base_.irn_checkpoint}}),
            beta=10,
            exp_times=8,
            radius=5,
            bg_thr=0.25,
            mode='local'),
        dict(type='MarginConfidenceMask', keep_ratio=0.5),
    ],
    extra_maps=dict(conf_mask='conf_mask'))
