# Score the CAM seeds of the CPU POLE model on coco-mini TRAIN (IRN make_cam inference,
# CAMMetric background-threshold sweep; POLE's eval threshold is 0.15):
#   python3 tools/test.py THIS work_dirs/pole_coco-mini/iter_195.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./pole_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
