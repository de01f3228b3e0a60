# Score the CAM seeds of SemPLeS stage (c) on VOC12 train (1,464 images with masks), as the
# official CAM Generation and Evaluation (generate_attention_maps_ms --scales 1.0 1.2, then
# evaluation.py --curve True --start 40: a background-threshold sweep; CAMMetric sweeps):
#   python tools/test.py THIS \
#       work_dirs/semples-c_deit-s16-weaktr_1xb64-60e_voc12aug-224x224/epoch_60.pth
# The official curve is scored after dense CRF (evaluation.py); these are the CRF-free seeds.
_base_ = ['./semples-c_deit-s16-weaktr_1xb64-60e_voc12aug-224x224.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
