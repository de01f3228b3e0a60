# Score the CAM seeds of the CPU SemPLeS stage-(c) model on coco-mini TRAIN (the official
# inference: PIL-bicubic scales (1.0, 1.2) + flip, fine CAM summed, per-class min-max;
# CAMMetric sweeps the background threshold, WeakTr's fixed one is 0.43):
#   python3 tools/test.py THIS work_dirs/semples-c_coco-mini/iter_52.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
# (stage a's seeds: the same command with work_dirs/semples-a_coco-mini/iter_52.pth)
_base_ = ['./semples-c_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
