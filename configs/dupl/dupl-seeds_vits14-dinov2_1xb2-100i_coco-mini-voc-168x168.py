# Score the CAM seeds of the CPU DuPL model on the TRAINING images, as validate_siamase()
# reports its "CAM_1" row (final CAM of student 1, multi-scale (1, 0.5, 1.5) + flip, ToCo's
# merge order):
#   python3 tools/test.py configs/dupl/dupl-seeds_vits14-dinov2_1xb2-100i_coco-mini-voc-168x168.py \
#       work_dirs/dupl_coco-mini/iter_100.pth
# Student 2: --cfg-options model.test_cfg.cam_head=cam2 ; aux CAMs: cam_head=aux1 / aux2.
# The CAMMetric sweeps the background threshold; DuPL's fixed rule is
#   --cfg-options test_evaluator.bg_thr=0.5
_base_ = ['./dupl_vits14-dinov2_1xb2-100i_coco-mini-voc-168x168.py']
model = dict(test_cfg=dict(predict_source='cam', crf=None))
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
