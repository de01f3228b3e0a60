# SemPLeS stage (c), CPU-sized, on coco-mini: the CAM model restarts from stage (a)'s initial
# weights (the DINOv2 ViT-S/14 and the same seeded head: there is no WeakTr checkpoint here),
# the stage-(b) CPU prompts loaded and frozen; L_OTM + 2.4 L_BTM + 0.05 (-mean log(1 - s(fg,
# p_c))). Scaled as the stage-a CPU config (batch 8, lr 8e-6, 52 iterations = 4 epochs).
# Run after stage b, then score the seeds:
#   python3 tools/train.py THIS --work-dir work_dirs/semples-c_coco-mini \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --cfg-options model.loss_terms.0.prompt_checkpoint=work_dirs/semples-b_coco-mini/iter_26.pth
#   python3 tools/test.py \
#       configs/semples/semples-seeds_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224.py \
#       work_dirs/semples-c_coco-mini/iter_52.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['./semples-a_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224.py']
model = dict(loss_terms=[
    dict(
        type='SemPLeSTerm',
        name='semples',
        cam='weaktr',
        stage='refine',
        clip={{_base_.tiny_clip}},
        dataset='voc',
        lambda1=2.4,
        lambda3=0.05,
        n_ctx=30,
        prompt_checkpoint='work_dirs/semples-b_coco-mini/iter_26.pth',
        clip_input='clip'),
])

# tools/run_pipeline.py / tools/benchmark.py: the three stages as one recipe (stage b starts
# from stage a's checkpoint through load_from, stage c reads stage b's prompts through
# model.loss_terms.0.prompt_checkpoint), then the seeds and the pseudo labels of stage c
_stage_a = 'configs/semples/semples-a_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224.py'
_stage_b = 'configs/semples/semples-b_vits14-dinov2_1xb16-26i_coco-mini-voc-224x224.py'
_seeds = 'configs/semples/semples-seeds_vits14-dinov2_1xb8-52i_coco-mini-voc-224x224.py'
wsss_recipe = dict(steps=[
    dict(name='stage_a', kind='train', config=_stage_a),
    dict(name='stage_b', kind='train', config=_stage_b, checkpoint='stage_a'),
    dict(
        name='stage1',
        kind='train',
        config='this',
        checkpoint='stage_b',
        checkpoint_key='model.loss_terms.0.prompt_checkpoint'),
    dict(name='seeds', kind='test', config=_seeds, checkpoint='stage1'),
    dict(name='pseudo_labels', kind='labels', config='this', checkpoint='stage1', bg_thr='seeds'),
    dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config='this'),
])
