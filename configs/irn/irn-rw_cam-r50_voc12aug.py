# IRN random walk (make_sem_seg_labels.py): boundary = sigmoid(mean of the image
# and flip logits) at stride 4; affinity (1 - max boundary on the path)^beta with
# beta 10 within radius 5; 2^8 steps on cams * (1 - boundary); x4 upsampling,
# division by the global max, bg = 0.25, argmax.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir work_dirs/irn_rw \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=IRN_CKPT
_base_ = ['../cam/cam_r50_1xb16-5e_voc12aug-512x512.py']
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
        bg_thr=0.25,
        size_divisor=512,  # IRN pads every image to its 512 crop
        mode='local'),
])
