# SIPE's make_seg_labels.py: the IRN random walk of IS-CAM ** 1.5, bg channel included
# (beta 10, exp_times 8, radius 5), global max, argmax (no constant bg score):
#   python tools/generate_pseudo_labels.py THIS_CONFIG SIPE_CKPT --out-dir work_dirs/sipe_rw \
#       --cfg-options pseudo_label_cfg.refiners.1.model.checkpoint=IRN_CKPT
_base_ = ['./sipe_r50_1xb16-5e_voc12aug-512x512.py']
irn_checkpoint = 'work_dirs/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512/epoch_3.pth'
pseudo_label_cfg = dict(refiners=[
    dict(type='BackgroundFromMeta', key='bg_cam'),
    dict(
        type='BGChannelRandomWalk',
        model=dict(
            config='configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py',
            checkpoint=irn_checkpoint),
        beta=10,
        exp_times=8,
        radius=5,
        power=1.5,
        size_divisor=512,  # IRN pads every image to its 512 crop
        mode='local'),
])
