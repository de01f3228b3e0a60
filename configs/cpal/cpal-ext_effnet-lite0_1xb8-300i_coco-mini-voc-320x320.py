# CPAL CPU config WITH an external seed CAM (the published pipeline's CLIP-ES input). NO CLIP
# WEIGHTS ON THIS MACHINE: the coco-mini CAM baseline's CAM files stand in for CLIP-ES's (same
# file format, as configs/pot's CPU config); with CLIP weights, point ext_cam_dir at the CLIP-ES
# --save-cams output instead. The files cover the whole image, so the images are resized to
# 320 x 320 without crop or flip (as POT). Everything else: the CPU config it inherits.
#   python tools/generate_pseudo_labels.py \
#       configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       work_dirs/cam-inhead_coco-mini/iter_300.pth --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --out-dir work_dirs/pot_ext_cams --save-cams
#   python3 tools/train.py THIS --work-dir work_dirs/cpal-ext_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/test.py THIS work_dirs/cpal-ext_coco-mini/iter_300.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./cpal_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
ext_cam_dir = 'work_dirs/pot_ext_cams'
model = dict(cam_heads=dict(cpal=dict(ext_cam_dir=ext_cam_dir, ext_cam_weight=1.0)))
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(type='Resize', scale=(320, 320), keep_ratio=False),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
