# Score the CAM seeds of SemPLeS stage (c) on COCO 2014 train (official: generate_attention_
# maps_ms --scales 1.0 0.8 1.2, evaluation.py --curve True --start 40; CAMMetric sweeps the
# background threshold, no CRF):
#   python tools/test.py THIS \
#       work_dirs/semples-c_deit-s16-weaktr_1xb24-60e_coco14-224x224/epoch_60.pth
_base_ = ['./semples-c_deit-s16-weaktr_1xb24-60e_coco14-224x224.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
