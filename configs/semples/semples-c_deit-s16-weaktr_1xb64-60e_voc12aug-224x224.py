# SemPLeS stage (c), Prompt-guided Semantic Refinement, on VOC12 train_aug (main3.py /
# engine3.py): the CAM model restarts from the WeakTr checkpoint (as stage a), the stage-(b)
# prompts are loaded and frozen:
#   L = L_OTM + 2.4 L_BTM + 0.05 (-mean log(1 - s(fg, p_c))).
# Official: main3.py --batch-size 64 --epochs 60 --lr 0.000512 --hypers 2.4 0.05
#   --btp_length 30 --btp_path semples2_0.02/voc/btp.pth
#   --resume WeakTr_results/WeakTr/checkpoint_best_mIoU.pth (stage a's recipe otherwise).
# CAM seeds: semples-seeds_deit-s16-weaktr_1xb64-60e_voc12-train.py.
#   python tools/train.py THIS --cfg-options model.loss_terms.0.clip.checkpoint=CLIP_PT \
#       model.backbone.init_cfg.checkpoint=WEAKTR \
#       model.cam_heads.weaktr.init_cfg.checkpoint=WEAKTR \
#       model.loss_terms.0.prompt_checkpoint=work_dirs/semples-b_.../epoch_60.pth
_base_ = ['./semples-a_deit-s16-weaktr_1xb64-60e_voc12aug-224x224.py']
prompt_checkpoint = 'work_dirs/semples-b_deit-s16-weaktr_1xb128-60e_voc12aug-224x224/epoch_60.pth'
model = dict(loss_terms=[
    dict(
        type='SemPLeSTerm',
        name='semples',
        cam='weaktr',
        stage='refine',
        clip={{_base_.semples_clip}},
        dataset='voc',
        lambda1=2.4,
        lambda3=0.05,
        n_ctx=30,
        prompt_checkpoint=prompt_checkpoint,
        clip_input='clip'),
])
