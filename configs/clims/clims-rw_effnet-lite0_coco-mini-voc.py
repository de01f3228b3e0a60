# CLIMS's make_sem_seg_labels on coco-mini: IRN random walk (beta 10, exp_times 8, radius 5,
# sem_seg_bg_thres 0.2) with the coco-mini IRN trained on clims-irlabels_*:
#   python tools/generate_pseudo_labels.py THIS work_dirs/clims_coco-mini/iter_195.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc --out-dir work_dirs/clims_rw \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['./clims_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py']
irn_checkpoint = 'work_dirs/irn-clims_coco-mini/iter_300.pth'
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRNRandomWalk',
        model=dict(
            config='configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py',
            checkpoint=irn_checkpoint),
        beta=10,
        exp_times=8,
        radius=5,
        bg_thr=0.2,
        mode='local'),
])
