# Score the CAM seeds of the CPU MuP-VSS model on the TRAINING images (the seed protocol, as the
# coco-mini CAM baseline), sweeping the background threshold:
#   python3 tools/test.py \
#       configs/mupvss/mupvss-seeds_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py \
#       work_dirs/mupvss_coco-mini/iter_208.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./mupvss_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
