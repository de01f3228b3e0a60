# BECO's stage 1 on VOC 2012: IRN random-walk labels (the refiner of
# configs/irn/irn-rw_cam-r50_voc12aug.py) + the confidence mask of gen_mask.py (top 50% of
# each class's pixels by the margin between the best and second-best random-walk score,
# background padded at 0.25). The split must be train_aug (BECO trains on it):
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT \
#       --out-dir work_dirs/beco_voc12aug/pseudo_labels \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['../irn/irn-rw_cam-r50_voc12aug.py']
pseudo_label_cfg = dict(
    refiners=[
        dict(
            type='IRNRandomWalk',
            model=dict(
                config='configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py',
                checkpoint={{_base_.irn_checkpoint}}),
            beta=10,
            exp_times=8,
            radius=5,
            bg_thr=0.25,
            size_divisor=512,
            mode='local'),
        dict(type='MarginConfidenceMask', keep_ratio=0.5),
    ],
    extra_maps=dict(conf_mask='conf_mask'))
