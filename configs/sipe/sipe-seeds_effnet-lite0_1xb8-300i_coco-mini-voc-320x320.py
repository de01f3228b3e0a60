# Score the IS-CAM seeds of the CPU SIPE model on coco-mini TRAIN (argmax with the learned
# bg channel: CAMMetric on pred_sem_seg, no threshold sweep):
#   python3 tools/test.py configs/sipe/sipe-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       work_dirs/sipe_coco-mini/iter_300.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
# The classifier CAM of the same model with the CAM baseline's threshold sweep:
#   --cfg-options model.test_cfg.label_cam=None model.test_cfg.cam.preset=irn \
#       test_evaluator.source=cams
_base_ = ['./sipe_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
