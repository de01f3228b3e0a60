# SIPE's make_seg_labels.py on coco-mini: IRN random walk of IS-CAM ** 1.5 with its bg
# channel (beta 10, exp_times 8, radius 5), argmax; the IRN is the coco-mini one trained on
# SIPE's IR labels (sipe-irlabels_effnet-lite0_coco-mini-voc.py):
#   python tools/generate_pseudo_labels.py THIS_CONFIG work_dirs/sipe_coco-mini/iter_300.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc --out-dir work_dirs/sipe_rw \
#       --cfg-options pseudo_label_cfg.refiners.1.model.checkpoint=IRN_CKPT
_base_ = ['./sipe_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
irn_checkpoint = 'work_dirs/irn-sipe_coco-mini/iter_300.pth'
pseudo_label_cfg = dict(refiners=[
    dict(type='BackgroundFromMeta', key='bg_cam'),
    dict(
        type='BGChannelRandomWalk',
        model=dict(
            config='configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py',
            checkpoint=irn_checkpoint),
        beta=10,
        exp_times=8,
        radius=5,
        power=1.5,
        mode='local'),
])
