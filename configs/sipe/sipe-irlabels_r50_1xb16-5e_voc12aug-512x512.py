# SIPE's cam2ir.py: IR labels from the IS-CAM with its learned bg channel:
# fg_conf = CRF(argmax IS-CAM), bg_conf = CRF(argmax IS-CAM with bg x 0.5), IRN's combination.
#   python tools/generate_pseudo_labels.py THIS_CONFIG SIPE_CKPT \
#       --out-dir data/VOCdevkit/VOC2012/ir_labels_sipe
# then train IRN on them:
#   python tools/train.py configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py \
#       --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=ir_labels_sipe
_base_ = ['./sipe_r50_1xb16-5e_voc12aug-512x512.py']
pseudo_label_cfg = dict(refiners=[
    dict(type='BackgroundFromMeta', key='bg_cam'),
    dict(
        type='BGChannelIRLabel',
        bg_scale=0.5,
        crf=dict(type='DenseCRF', preset='irn_label', output='label')),
])
