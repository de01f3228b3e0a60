# Stage 2 on coco-mini with FULL supervision, the reference of the pseudo-label runs: the
# plain CPU stage-2 config (deeplabv3plus_effnet-lite0_..._pl-cam-320x320.py: same network,
# pipeline, schedule, 300 iterations) trained on the ground-truth masks of the same 104
# training images (SegmentationClass/) instead of their pseudo labels. The ratio
# pseudo-label val mIoU / this val mIoU is the number to report (docs/en/confidence_labels.md).
#   python3 tools/train.py THIS_CONFIG --work-dir work_dirs/deeplabv3plus-gt_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='mmwsss.WSSSCOCODataset',
        label_space='voc',
        data_root={{_base_.data_root}},
        ann_file='ImageSets/Segmentation/train.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        require_masks=True,
        pipeline={{_base_.train_pipeline}}))
