# Score the POLE CAM seeds on VOC train (1,464 images): make_clims + eval_cam (bg 0.15,
# --cam_eval_thres 0.15 in run_CLIMS.sh) and the CAMMetric background-threshold sweep:
#   python tools/test.py THIS work_dirs/pole_r50_1xb16-15e_voc12aug-512x512/epoch_15.pth
_base_ = ['./pole_r50_1xb16-15e_voc12aug-512x512.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
