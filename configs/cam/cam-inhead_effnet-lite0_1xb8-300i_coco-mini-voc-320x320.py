# The coco-mini CAM baseline with its classifier initialised from the ImageNet head
# ("inhead"): everything else is the IRN-style recipe of the parent config.
#
# Why: with 104 training images (half the VOC classes seen 1-4 times) a randomly
# initialised classifier learns context for its rare classes and its CAMs are no
# better than a label-only centred blob. Row c of the CAM head starts as the mean of
# the ImageNet classifier rows that name class c (mmwsss/models/utils/
# imagenet_class_map.py; 'person' has only a weak proxy), then trains as usual.
# This is transfer learning, not part of IRN: configs/cam/README.md gives both numbers.
_base_ = ['./cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
# The checkpoint must hold the ImageNet head (converted with --keep-head, as
# tools/install.sh does). Another checkpoint from the command line needs both keys:
#   --cfg-options model.backbone.init_cfg.checkpoint=F model.decode_head.init_cfg.1.checkpoint=F

model = dict(
    decode_head=dict(init_cfg=[
        dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
        dict(type='ClassifierTransfer', checkpoint={{_base_.pretrained}}, class_map='voc'),
    ]))

# tools/run_pipeline.py: the quickstart's seven commands as one recipe. The pseudo labels
# use the seed sweep's best background threshold, as the quickstart's --bg-thr does.
wsss_recipe = dict(
    stage1='this',
    seeds='this',
    pseudo_labels='this',
    bg_thr='seeds',
    stage2='configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py')
