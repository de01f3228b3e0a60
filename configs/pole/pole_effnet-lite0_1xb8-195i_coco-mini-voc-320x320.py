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
