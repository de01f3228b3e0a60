# Score the CLIMS CAM seeds on VOC train (1,464 images), as eval_cam.py (bg 0.15) and with
# the CAMMetric's background-threshold sweep:
#   python tools/test.py THIS work_dirs/clims_r50_1xb16-15e_voc12aug-512x512/epoch_15.pth
_base_ = ['./clims_r50_1xb16-15e_voc12aug-512x512.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
