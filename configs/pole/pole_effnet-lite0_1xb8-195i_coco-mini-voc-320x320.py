# POLE, CPU-sized, on coco-mini (104 train images, VOC label space): the CPU CLIMS config
# (configs/clims/clims_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py, whose header says
# how it is scaled from the VOC recipe: REAL EfficientNet-Lite0 from the coco-mini CAM
# baseline, crop 320, batch 8, lr 1.25e-4, 15 epochs = 195 iterations, CLIP input
# re-normalised to ImageNet statistics) with POLE's two changes:
#   selection   tools/pole_select_prompts.py with the same RANDOM tiny CLIP
#               (TINY_CLIP_CFG-sized, seeded; no CLIP weights exist on this machine):
#               baseline CAMs of the coco-mini CAM baseline, our VOC candidates
#   training    POLETerm: per-image class texts, --hyper 10,25,1,0
# With random CLIP weights the chosen tokens are arbitrary and the seed mIoU is not a
# POLE result: the run checks the plumbing end to end.
# Run (the CAM baseline checkpoint is work_dirs/cam-inhead_coco-mini/iter_300.pth):
#   python3 tools/pole_select_prompts.py THIS work_dirs/cam-inhead_coco-mini/iter_300.pth \
#       --out work_dirs/pole_coco-mini/prompts.json --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/train.py THIS \
#       --work-dir work_dirs/pole_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
#   python3 tools/test.py \
#       configs/pole/pole-seeds_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py \
#       work_dirs/pole_coco-mini/iter_195.pth --data-root /tmp/mmwsss_cache/coco-mini-voc
_base_ = ['../clims/clims_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py']
pole_template = 'A photo of {}.'
pole_prompt_file = 'work_dirs/pole_coco-mini/prompts.json'
model = dict(loss_terms=[
    dict(
        type='POLETerm',
        name='pole',
        cam='clims',
        clip=dict(type='OpenCLIP', arch={{_base_.tiny_clip}}, quick_gelu=True, checkpoint=None),
        dataset='voc',
        version='root',
        text_mode='per_image',
        prompt_file=pole_prompt_file,
        text_template=pole_template,
        loss_weights=(10.0, 25.0, 1.0, 0.0),
        cbs_thr=0.26,
        clip_size=224,
        clip_input='renormalize',
        src_mean=[127.0, 127.0, 127.0],
        src_std=[128.0, 128.0, 128.0],
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375]),
])
pole_selection = dict(
    clip=dict(type='OpenCLIP', arch={{_base_.tiny_clip}}, quick_gelu=True, checkpoint=None),
    dataset='voc',
    candidates=None,
    template=pole_template,
    clip_size=224,
    clip_pool='tok',
    bgr=False,
    uint8_wrap=False,
    dataloader=None,  # pseudo_label_dataloader: coco-mini train, test pipeline
    seed=0)

# tools/run_pipeline.py: POLE's chain (official: clip_selection.py on the baseline CAMs, then
# CLIMS's run_sample.py with the per-image tokens), replacing the recipe of the CLIMS config
# this file inherits:
#   select         tools/pole_select_prompts.py with the coco-mini CAM baseline checkpoint
#                  (the baseline CAMs POLE selects on and starts from); it writes
#                  <step>/prompts.json, which training and the seeds test then read
#   stage1         tools/train.py THIS (POLETerm with those tokens)
#   seeds          pole-seeds_*: CAMMetric sweep on the training images (the README's 27.62)
#   ir_labels      cam_to_ir_label, irn, pseudo_labels (IRN random walk): CLIMS's coco-mini
#                  configs, as the VOC pole-irlabels / pole-rw configs are CLIMS's with the
#                  POLE base; the CAM network and its checkpoint keys are CLIMS's exactly
#                  (the POLE term holds no saved weights), so the POLE checkpoint loads as is
#   label_eval, stage2 (the shared DeepLabV3+ config), stage2_val
_pole_prompts = {'model.loss_terms.0.prompt_file': '{dir:select}/prompts.json'}
_pole_seeds = 'configs/pole/pole-seeds_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py'
_pole_ir = 'configs/clims/clims-irlabels_effnet-lite0_coco-mini-voc.py'
_pole_rw = 'configs/clims/clims-rw_effnet-lite0_coco-mini-voc.py'
_pole_irn = 'configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py'
_pole_stage2 = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(
    _delete_=True,
    steps=[
        dict(
            name='select',
            kind='tool',
            script='tools/pole_select_prompts.py',
            args=[
                '{config}', 'work_dirs/cam-inhead_coco-mini/iter_300.pth', '--out',
                '{out}/prompts.json', '--data-root', '{data_root}'
            ],
            config='this'),
        dict(name='stage1', kind='train', config='this', cfg_options=_pole_prompts),
        dict(
            name='seeds',
            kind='test',
            config=_pole_seeds,
            checkpoint='stage1',
            cfg_options=_pole_prompts,
            role='seeds'),
        dict(name='ir_labels', kind='labels', config=_pole_ir, checkpoint='stage1'),
        dict(
            name='irn',
            kind='train',
            config=_pole_irn,
            cfg_options={'train_dataloader.dataset.pseudo_label_dir': '{labels:ir_labels}'}),
        dict(
            name='pseudo_labels',
            kind='labels',
            config=_pole_rw,
            checkpoint='stage1',
            cfg_options={'pseudo_label_cfg.refiners.0.model.checkpoint': '{checkpoint:irn}'}),
        dict(name='label_eval', kind='eval_labels', config=_pole_rw, labels='pseudo_labels'),
        dict(name='stage2', kind='train', config=_pole_stage2, labels='pseudo_labels'),
        dict(
            name='stage2_val', kind='test', config=_pole_stage2, checkpoint='stage2', role='final'),
    ])
