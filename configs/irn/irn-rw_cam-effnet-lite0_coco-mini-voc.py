# IRN random walk on coco-mini CAMs (beta 10, exp_times 8, radius 5, bg 0.25).
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir work_dirs/irn_rw \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['../cam/cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
irn_checkpoint = ('work_dirs/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-'
                  '320x320/iter_300.pth')
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRNRandomWalk',
        model=dict(
            config='configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-'
            '320x320.py',
            checkpoint=irn_checkpoint),
        beta=10,
        exp_times=8,
        radius=5,
        bg_thr=0.25,
        mode='local'),
])
