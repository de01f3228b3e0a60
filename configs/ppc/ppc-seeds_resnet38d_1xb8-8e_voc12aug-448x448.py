# Score SEAM + PPC's CAM seeds (cam_rv, scales (0.5, 1, 1.5, 2) x flip summed, min-max: the
# official contrast_infer.py) on VOC train (1,464 images, the split the README's 61.5 is on),
# sweeping the background threshold (CAMMetric; the official saves PNGs at alpha 0.26):
#   python3 tools/test.py configs/ppc/ppc-seeds_resnet38d_1xb8-8e_voc12aug-448x448.py CKPT
# the official fixed alpha: --cfg-options test_evaluator.bg_thr=0.26
_base_ = ['./ppc_resnet38d_1xb8-8e_voc12aug-448x448.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric')
