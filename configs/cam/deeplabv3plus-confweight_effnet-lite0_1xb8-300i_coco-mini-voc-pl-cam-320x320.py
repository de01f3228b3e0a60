# Stage 2 on coco-mini, confidence-weighted (docs/en/confidence_labels.md): the plain CPU
# stage-2 config (deeplabv3plus_effnet-lite0_..._pl-cam-320x320.py: same network, pipeline,
# schedule, 300 iterations) with two changes only:
#   - the decode head's cross entropy is mmwsss.ConfidenceWeightedLoss: per-pixel weight
#     conf / 255, loss = sum(w * ce) / sum(w) over the non-ignore pixels;
#   - the model is mmwsss.ConfidenceEncoderDecoder, which hands each batch's confidence
#     (data_sample.gt_conf_mask, loaded next to the label, augmented with it) to that loss.
# The labels + maps come from
# configs/cam/cam-inhead-conf_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py; then
#   python3 tools/train.py THIS_CONFIG --work-dir work_dirs/deeplabv3plus-confweight_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
# Threshold instead of weights (ignore pixels with conf / 255 < 0.5):
#   --cfg-options model.decode_head.loss_decode.mode=threshold model.decode_head.loss_decode.thr=0.5
_base_ = ['./deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py']
# ---- frequently modified ----
pseudo_label_dir = 'work_dirs/cam-inhead-conf_coco-mini/pseudo_labels'
crop_size = (320, 320)
# -----------------------------
model = dict(
    type='mmwsss.ConfidenceEncoderDecoder',
    conf_key='gt_conf_mask',
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='mmwsss.ConfidenceWeightedLoss',
            loss_cfg=dict(type='mmseg.CrossEntropyLoss', avg_non_ignore=True, loss_weight=1.0),
            mode='weight',
            power=1.0,
            thr=0.5,
            normalize='weight',
            loss_name='loss_ce')))

# the plain pipeline plus the map: loaded after the label and listed in seg_fields, so
# mmseg's resize (nearest), crop and flip move it exactly as the label
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='mmwsss.LoadConfidenceMask',
        label_dir=pseudo_label_dir,
        mask_dir='confidence',
        key='gt_conf_mask',
        binarize=False),
    dict(type='RandomResize', scale=(640, 320), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='mmwsss.PackWSSSMaps', maps=('gt_conf_mask', )),
]
train_dataloader = dict(dataset=dict(pseudo_label_dir=pseudo_label_dir, pipeline=train_pipeline))
