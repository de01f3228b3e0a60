# "Merging" at inference: the seeds of the union (element-wise max, CAMEnsemble fusion 'or') of
# the two S&M maps of ONE checkpoint, scored on the coco-mini training images (CAMMetric sweep).
# Our choice, not the paper's (the abstract does not say how the maps make the pseudo masks).
# Test-only: no checkpoint argument, both members load the same checkpoint:
#   python3 tools/test.py \
#       configs/sm/sm-merged-seeds_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc --cfg-options \
#       model.members.0.checkpoint=CKPT model.members.1.checkpoint=CKPT
_base_ = ['./sm_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
sm_cfg = 'configs/sm/sm_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
sm_ckpt = 'work_dirs/sm_coco-mini/iter_300.pth'
model = dict(
    _delete_=True,
    type='CAMEnsemble',
    members=[
        dict(config=sm_cfg, checkpoint=sm_ckpt, test_cfg=dict(cam_head='cam1')),
        dict(config=sm_cfg, checkpoint=sm_ckpt, test_cfg=dict(cam_head='cam2')),
    ],
    fusion='or',
    bg_thr=0.15)
test_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt'))
test_evaluator = dict(_delete_=True, type='CAMMetric')
