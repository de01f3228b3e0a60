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

# Its own recipe (the co-trained parent's would train the parent): this branch alone, its
# seeds config, labels at the sweep's best threshold, the shared stage 2. Paths, not 'this':
# the seeds config inherits this recipe.
_seeds = 'configs/xarch/xarch-cnn-only-seeds_effnet-lite0_1xb2-200i_coco-mini-voc-168x168.py'
wsss_recipe = dict(
    _delete_=True,
    stage1='configs/xarch/xarch-cnn-only_effnet-lite0_1xb2-200i_coco-mini-voc-168x168.py',
    seeds=_seeds,
    pseudo_labels=_seeds,
    bg_thr='seeds',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
