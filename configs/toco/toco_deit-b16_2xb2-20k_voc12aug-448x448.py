# ToCo with DeiT-B/16 (IN-1k, timm `deit_base_patch16_224`, ToCo's default backbone) on VOC
# (README: val 68.1 single-scale, 69.8 MS+CRF; test 70.5). Convert the timm DeiT-B checkpoint
# with tools/model_converters/vit_timm.py.
_base_ = ['./toco_vit-b16_2xb2-20k_voc12aug-448x448.py']
pretrained = 'checkpoints/deit-b16_in1k_mmwsss.pth'
model = dict(
    backbone=dict(
        vit=dict(model_name='deit_base_patch16_224'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
