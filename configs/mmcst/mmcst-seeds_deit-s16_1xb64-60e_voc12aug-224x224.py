# Score the MMCST seeds (fused class-token attention x PatchCAM, patch-affinity refined,
# scale 1 + flip, GT tags) on VOC 2012 train (1,464 images), as MCTformer's run.sh does
# (--gen_attention_maps --attention-type fused --layer-index 3 --patch-attn-refine, then
# evaluation.py over background thresholds):
#   python3 tools/test.py configs/mmcst/mmcst-seeds_deit-s16_1xb64-60e_voc12aug-224x224.py \
#       work_dirs/mmcst_deit-s16_1xb64-60e_voc12aug-224x224/iter_9900.pth
# Other maps: --cfg-options model.cam_heads.main.cam_type=attention (MCTformer-V1 style) or
# model.cam_heads.main.token_maps=visual (visual tokens only).
_base_ = ['./mmcst_deit-s16_1xb64-60e_voc12aug-224x224.py']
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
