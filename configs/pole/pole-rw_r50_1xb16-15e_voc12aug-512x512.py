# POLE's make_sem_seg_labels (run_CLIMS.sh; settings are CLIMS's run_sample.py defaults,
# POLE's is missing): IRN random walk of the POLE CAMs (beta 10, exp_times 8, radius 5)
# with sem_seg_bg_thres 0.2 (IRN's own default is 0.25), the IRN
# trained on pole-irlabels_*:
#   python tools/generate_pseudo_labels.py THIS POLE_CKPT --out-dir work_dirs/pole_rw \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['./pole_r50_1xb16-15e_voc12aug-512x512.py']
irn_checkpoint = 'work_dirs/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512/epoch_3.pth'
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRNRandomWalk',
        model=dict(
            config='configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py',
            checkpoint=irn_checkpoint),
        beta=10,
        exp_times=8,
        radius=5,
        bg_thr=0.2,
        size_divisor=512,  # IRN pads every image to its 512 crop
        mode='local'),
])
