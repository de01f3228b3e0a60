# Score MuP-VSS's CAM seeds (the ReLU'd search maps, scales (1, 0.5, 1.5, 2) x flip summed,
# per-class max normalisation) on VOC train (1,464 images, the PSA-family seed split),
# sweeping the background threshold (CAMMetric):
#   python3 tools/test.py configs/mupvss/mupvss-seeds_resnet38d_1xb8-8e_voc12aug-448x448.py CKPT
_base_ = ['./mupvss_resnet38d_1xb8-8e_voc12aug-448x448.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
