# Score the gradient-attention CAM seeds (GETAM) of the CPU ACR model on the TRAINING images,
# as ACR's evaluation.py --curve does (threshold sweep of the background score):
#   python3 tools/test.py configs/acr/acr-seeds_vits14-dinov2_1xb2-520i_coco-mini-voc-168x168.py \
#       work_dirs/acr_coco-mini/iter_520.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
# The class-token patch CAM instead of GETAM: --cfg-options model.cam_heads.cls.grad_cam=None
_base_ = ['./acr_vits14-dinov2_1xb2-520i_coco-mini-voc-168x168.py']
model = dict(test_cfg=dict(predict_source='cam'))
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
