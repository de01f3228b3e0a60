# CAM seeds of the USAGE ResNet-38 model on VOC 2012 train (1,464 images, reference §0.5),
# background threshold swept (CAMMetric):
#   python3 tools/test.py configs/usage/usage-seeds_resnet38d_1xb8-8e_voc12-train.py CKPT
_base_ = ['./usage_resnet38d_1xb8-8e_voc12aug-448x448.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
