# SemPLeS stage (c), Prompt-guided Semantic Refinement, on COCO 2014 train:
#   main3.py --batch-size 24 --epochs 60 --reduction 4 --pool-type avg --lr 0.00000512
#            --hypers 0.75 0.2 --btp_length 30 --btp_path semples2_0.01/coco/btp.pth
#            --resume WeakTr_results_coco/WeakTr/checkpoint_best_mIoU.pth
# L_OTM + 0.75 L_BTM + 0.2 (-mean log(1 - s(fg, p_c))), batch 24, AdamW lr 5.12e-6 x 24 / 512
# = 2.4e-7; restarts from the WeakTr checkpoint, stage-(b) prompts frozen.
# CAM seeds: semples-seeds_deit-s16-weaktr_1xb24-60e_coco14-train.py (scales 1.0, 0.8, 1.2).
_base_ = ['./semples-a_deit-s16-weaktr_1xb32-60e_coco14-224x224.py']
batch_size = 24
prompt_checkpoint = 'work_dirs/semples-b_deit-s16-weaktr_1xb128-60e_coco14-224x224/epoch_60.pth'
model = dict(loss_terms=[
    dict(
        type='SemPLeSTerm',
        name='semples',
        cam='weaktr',
        stage='refine',
        clip={{_base_.semples_clip}},
        dataset='coco',
        lambda1=0.75,
        lambda3=0.2,
        n_ctx=30,
        prompt_checkpoint=prompt_checkpoint,
        clip_input='clip'),
])
train_dataloader = dict(batch_size=batch_size)
optim_wrapper = dict(optimizer=dict(lr=0.00000512 * batch_size / 512))
