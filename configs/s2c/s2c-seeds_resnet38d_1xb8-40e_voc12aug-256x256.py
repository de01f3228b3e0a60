# Score S2C's CAM seeds (4 scales x flip summed, max-norm) on VOC train (1,464 images, the
# official --val_list voc12/train.txt), sweeping the background threshold as evaluation.py:
#   python3 tools/test.py configs/s2c/s2c-seeds_resnet38d_1xb8-40e_voc12aug-256x256.py CKPT
_base_ = ['./s2c_resnet38d_1xb8-40e_voc12aug-256x256.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
