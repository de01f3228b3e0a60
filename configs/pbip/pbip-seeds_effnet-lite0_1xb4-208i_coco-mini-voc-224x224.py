# Seeds of the CPU PBIP model on the coco-mini TRAINING images (masks for evaluation only),
# scored twice: 'pbip' = PBIP's own rule (fused CAM argmax, never background; mean IoU over
# the 20 foreground classes) and 'sweep' = the CAM-baseline protocol (the same fused maps,
# background by a threshold sweep, 21-class mIoU) for the comparison with the CAM baseline.
#   python3 tools/test.py configs/pbip/pbip-seeds_effnet-lite0_1xb4-208i_coco-mini-voc-224x224.py \
#       work_dirs/pbip_effnet-lite0_1xb4-208i_coco-mini-voc-224x224/iter_208.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./pbip_effnet-lite0_1xb4-208i_coco-mini-voc-224x224.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = [
    dict(type='CAMMetric', source='pred_sem_seg', exclude_background=True, prefix='pbip'),
    dict(type='CAMMetric', source='cams', prefix='sweep'),
]
