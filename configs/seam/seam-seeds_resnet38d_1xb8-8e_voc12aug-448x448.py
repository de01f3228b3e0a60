# Score SEAM's CAM seeds (cam_rv, scales (0.5, 1, 1.5, 2) x flip summed, SEAM min-max) on
# VOC train (1,464 images, the split SEAM/CPN/PSA report), sweeping the background threshold
# as SEAM's evaluation --curve does (CAMMetric):
#   python3 tools/test.py configs/seam/seam-seeds_resnet38d_1xb8-8e_voc12aug-448x448.py CKPT
# SEAM's fixed out_cam_pred_alpha: --cfg-options test_evaluator.bg_thr=0.26
_base_ = ['./seam_resnet38d_1xb8-8e_voc12aug-448x448.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
