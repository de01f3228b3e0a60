# Score CPN's CAM seeds (cam_rv, scales (0.5, 1, 1.5, 2) x flip summed, SEAM min-max) on VOC train
# (1,464 images) with a background-threshold sweep (CAMMetric). CPN's evaluation_cam.py searches
# 0.20-0.59 on maps halved by infer_cam.py: the same seeds are the thresholds 0.40-1.18 here.
#   python3 tools/test.py configs/cpn/cpn-seeds_resnet38d_1xb4-8e_voc12aug-448x448.py CKPT
_base_ = ['./cpn_resnet38d_1xb4-8e_voc12aug-448x448.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
