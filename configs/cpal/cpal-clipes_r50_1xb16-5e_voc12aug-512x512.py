# CPAL with CLIP-ES seeds (the published pipeline is CLIP-ES-based): the structure-aware seeds
# of the instance prototypes are located on the CLIP-ES CAM (ext_cam_weight 1.0) instead of
# the classifier CAM, in training and at inference. The CLIP-ES CAM files cover the whole image,
# so the images are resized to 512 x 512 without crop or flip (as configs/pot). First:
#   python tools/generate_pseudo_labels.py \
#       configs/clip_es/clip-es_vit-b16_1xb1-trainfree_voc12aug-ori.py \
#       --out-dir work_dirs/clip-es_voc12aug/pseudo_labels --save-cams
# then train this config; the seeds: tools/test.py THIS CKPT (VOC train, argmax).
_base_ = ['./cpal_r50_1xb16-5e_voc12aug-512x512.py']
ext_cam_dir = 'work_dirs/clip-es_voc12aug/pseudo_labels'
model = dict(cam_heads=dict(cpal=dict(ext_cam_dir=ext_cam_dir, ext_cam_weight=1.0)))
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(512, 512), keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
