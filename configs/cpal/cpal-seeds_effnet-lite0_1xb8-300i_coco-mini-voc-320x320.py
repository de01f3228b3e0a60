# Score the PA-CAM seeds of the CPU CPAL model on coco-mini TRAIN (argmax with the learned bg
# channel: CAMMetric on pred_sem_seg, no threshold sweep):
#   python3 tools/test.py configs/cpal/cpal-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       work_dirs/cpal_coco-mini/iter_300.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./cpal_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
