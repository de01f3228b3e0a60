# SemPLeS stage (b), Contrastive Prompt Learning, on VOC12 train_aug (main2.py / engine2.py):
# the stage-(a) CAM model frozen (eval mode, no gradients); the only parameters trained are
# the background text prompts (20 x 30 x 512, U[0, 1) init, 'a photo of [P_1..P_30].'):
#   L = -mean log s(bg, p_c) + 0.02 mean log s(t_c, p_c), maps min-max'd with eps 1e-4.
# Official: main2.py --batch-size 128 --epochs 60 --lr 0.1 --hypers 0.02 --btp_length 30
#   --resume semples1/voc/checkpoint_best_mIoU.pth; augmentation RandomResizedCrop + flip
#   only (no RandAugment, colour jitter 0, no erasing); AdamW lr 0.1 x 128 / 512 = 0.025,
#   wd 0.03, cosine per epoch.
# The prompts are a parameter of the loss term: every checkpoint of this run holds them
# (loss_terms.0.prompts) and stage (c) reads them from there.
#   python tools/train.py THIS --cfg-options model.loss_terms.0.clip.checkpoint=CLIP_PT \
#       load_from=work_dirs/semples-a_deit-s16-weaktr_1xb64-60e_voc12aug-224x224/epoch_60.pth
_base_ = ['./semples-a_deit-s16-weaktr_1xb64-60e_voc12aug-224x224.py']
batch_size = 128
base_lr = 0.1
# the CAM model comes from stage (a)'s checkpoint (load_from), not the WeakTr file
load_from = 'work_dirs/semples-a_deit-s16-weaktr_1xb64-60e_voc12aug-224x224/epoch_60.pth'
model = dict(
    backbone=dict(frozen=True, init_cfg=None),
    cam_heads=dict(weaktr=dict(frozen=True, init_cfg=None)),
    loss_terms=[
        dict(
            type='SemPLeSTerm',
            name='semples',
            cam='weaktr',
            stage='prompt',
            clip={{_base_.semples_clip}},
            dataset='voc',
            lambda2=0.02,
            n_ctx=30,
            clip_input='clip'),
    ])
train_pipeline = [
    dict(type='LoadWSSSImageFromFile'),
    dict(
        type='mmpretrain.RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        aspect_ratio_range=(3. / 4., 4. / 3.),
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWSSSInputs'),
]
train_dataloader = dict(batch_size=batch_size, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(optimizer=dict(lr=base_lr * batch_size / 512))
