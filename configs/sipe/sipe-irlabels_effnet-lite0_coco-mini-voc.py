# SIPE's cam2ir.py on coco-mini: IR labels from the IS-CAM with its learned bg channel
# (fg_conf = CRF(argmax), bg_conf = CRF(argmax with bg x 0.5)), for the coco-mini IRN:
#   python tools/generate_pseudo_labels.py THIS_CONFIG work_dirs/sipe_coco-mini/iter_300.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --out-dir /tmp/mmwsss_cache/coco-mini-voc/ir_labels_sipe
_base_ = ['./sipe_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
pseudo_label_cfg = dict(refiners=[
    dict(type='BackgroundFromMeta', key='bg_cam'),
    dict(
        type='BGChannelIRLabel',
        bg_scale=0.5,
        crf=dict(type='DenseCRF', preset='irn_label', output='label')),
])
