# Score the CAM seeds of the CPU USAGE model on the TRAINING images (the seed protocol, as the
# coco-mini CAM baseline), sweeping the background threshold:
#   python3 tools/test.py \
#       configs/usage/usage-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       work_dirs/usage_coco-mini/iter_300.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./usage_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
