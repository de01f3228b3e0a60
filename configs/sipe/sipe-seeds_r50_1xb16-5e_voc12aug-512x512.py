# Score SIPE's IS-CAM seeds (make_cam.py: 4 scales x flip, bg channel, argmax) on VOC train
# (1,464 images) as eval_cam.py does; the label is the argmax, so the metric reads
# pred_sem_seg (no background-threshold sweep: IS-CAM has its own bg channel):
#   python3 tools/test.py configs/sipe/sipe-seeds_r50_1xb16-5e_voc12aug-512x512.py CKPT
_base_ = ['./sipe_r50_1xb16-5e_voc12aug-512x512.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
