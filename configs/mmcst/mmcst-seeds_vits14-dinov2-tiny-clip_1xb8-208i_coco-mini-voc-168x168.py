# Score the CAM seeds of the CPU MMCST model on the coco-mini TRAINING images (the fused map:
# class-token attention of the last 3 blocks, visual + text summed, x relu(PatchCAM), refined
# by the patch affinity of all 12 blocks; scale 1 + flip at the original image size; GT tags):
#   python3 tools/test.py \
#       configs/mmcst/mmcst-seeds_vits14-dinov2-tiny-clip_1xb8-208i_coco-mini-voc-168x168.py \
#       work_dirs/mmcst_coco-mini/iter_208.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
# The CAMMetric sweeps the background threshold. Other maps:
#   --cfg-options model.cam_heads.main.cam_type=attention   (class-token attention only)
#   --cfg-options model.cam_heads.main.token_maps=visual    (visual tokens only)
_base_ = ['./mmcst_vits14-dinov2-tiny-clip_1xb8-208i_coco-mini-voc-168x168.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
