# Score the CAM seeds of the config in _base_ on the TRAINING images (multi-scale
# (1, 0.5, 1.5) + flip, ToCo's merge; the CAMMetric sweeps the background threshold):
#   python3 tools/test.py \
#       configs/xarch/xarch-cnn-only-seeds_effnet-lite0_1xb2-200i_coco-mini-voc-168x168.py \
#       work_dirs/<run>/iter_200.pth
# Another CAM head: --cfg-options model.test_cfg.cam_head=cam_cnn (or cam_vit)
_base_ = ['./xarch-cnn-only_effnet-lite0_1xb2-200i_coco-mini-voc-168x168.py']
model = dict(test_cfg=dict(predict_source='cam', crf=None))
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
