# CAM seeds of the S&M ResNet-38 model on VOC 2012 train (1,464 images, the PSA/SEAM seed
# protocol, reference §0.5), background threshold swept (CAMMetric):
#   python3 tools/test.py configs/sm/sm-seeds_resnet38d_1xb8-8e_voc12-train.py CKPT
# the second map: --cfg-options model.test_cfg.cam_head=cam2
_base_ = ['./sm_resnet38d_1xb8-8e_voc12aug-448x448.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
