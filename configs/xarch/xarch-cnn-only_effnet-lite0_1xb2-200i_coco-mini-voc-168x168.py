# Baseline for configs/xarch: the CNN branch ALONE (same recipe; its decoder learns from its
# own PAR-refined CAM, no consistency term). Also a member of the AND / OR fusion configs.
_base_ = ['./xarch_effnet-lite0-vits14-dinov2_1xb2-200i_coco-mini-voc-168x168.py']
seg_start = 20
model = dict(
    branches=dict(_delete_=True, cnn={{_base_.cnn_branch}}),
    label_sources=dict(_delete_=True, l_cnn={{_base_.label_cnn}}),
    loss_terms=[
        dict(type='ClsTerm', name='cls_cnn', cam='cam_cnn', weight=1.0),
        dict(
            type='SegTerm',
            name='seg_cnn',
            branch='cnn',
            label='l_cnn',
            loss='bg_fg',
            weight=0.1,
            schedule=dict(type='StepOn', start=seg_start),
            skip_when_off=True),
    ],
    test_cfg=dict(predict_branch='cnn', cam_head='cam_cnn'))
