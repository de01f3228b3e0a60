# RS-TextWS-Seg stage 3, CPU-sized, on coco-mini (VOC label space): the CAM baseline's plain
# mmseg DeepLabV3+ EfficientNet-Lite0 recipe (configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_
# coco-mini-voc-pl-cam-320x320.py, unchanged) trained on the stage-2 pseudo labels of
# rs-textws-seg-cam_tiny-clip-random_1xb1-trainfree_coco-mini-voc-ori.py:
#   python3 tools/train.py configs/rs_textws_seg/<this file> \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = '../cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
pseudo_label_dir = 'work_dirs/rs-textws-seg_coco-mini/pseudo_labels'
work_dir = 'work_dirs/deeplabv3plus_coco-mini-pl-rs-textws-seg'
train_dataloader = dict(dataset=dict(pseudo_label_dir=pseudo_label_dir))
