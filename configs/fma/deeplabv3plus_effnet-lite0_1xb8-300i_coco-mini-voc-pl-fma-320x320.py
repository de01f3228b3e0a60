# FMA stage 2 on coco-mini, CPU-sized: the CAM baseline's stage-2 config (mmseg DeepLabV3+
# with the ImageNet EfficientNet-Lite0 backbone, 300 iterations at batch 8, crop 320)
# unchanged, trained on the fine seeds of
# configs/fma/fma-seg_tiny-clip-random_1xb16-167i_coco-mini-voc-pl-fma-cls-224x224.py:
#   python3 tools/train.py THIS --work-dir work_dirs/fma-stage2_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = '../cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
pseudo_label_dir = 'work_dirs/fma-seg_coco-mini/seeds'
train_dataloader = dict(dataset=dict(pseudo_label_dir=pseudo_label_dir))
