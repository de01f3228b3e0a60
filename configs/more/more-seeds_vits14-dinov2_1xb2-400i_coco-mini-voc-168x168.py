# Score the CAM seeds of the CPU MoRe model on the TRAINING images (final CAM, MoRe's training
# scales (1, 0.5, 0.75, 1.5) + flip, ToCo's merge order, GROUND-TRUTH tags):
#   python3 tools/test.py configs/more/more-seeds_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py \
#       work_dirs/more_coco-mini/iter_400.pth
# The CAMMetric sweeps the background threshold; MoRe's fixed rule is
#   --cfg-options test_evaluator.bg_thr=0.5
# and the aux CAM: --cfg-options model.test_cfg.cam_head=aux
_base_ = ['./more_vits14-dinov2_1xb2-400i_coco-mini-voc-168x168.py']
model = dict(test_cfg=dict(predict_source='cam', crf=None))
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
