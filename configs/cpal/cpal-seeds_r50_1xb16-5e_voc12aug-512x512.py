# Score CPAL's PA-CAM seeds (SIPE's make_cam.py protocol: 4 scales x flip, the learned bg
# channel, argmax, no threshold sweep) on VOC train (1,464 images):
#   python3 tools/test.py configs/cpal/cpal-seeds_r50_1xb16-5e_voc12aug-512x512.py CKPT
_base_ = ['./cpal_r50_1xb16-5e_voc12aug-512x512.py']
test_dataloader = dict(
    dataset=dict(
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass')))
test_evaluator = dict(_delete_=True, type='CAMMetric', source='pred_sem_seg')
