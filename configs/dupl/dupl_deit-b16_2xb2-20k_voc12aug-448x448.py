# DuPL with DeiT-B/16 (IN-1k, timm `deit_base_patch16_224`, DuPL's default --backbone) on VOC
# (README: val 69.9 single-scale, 72.2 MS+CRF; test 71.6). Convert the timm DeiT-B checkpoint
# with tools/model_converters/vit_timm.py.
_base_ = ['./dupl_vit-b16_2xb2-20k_voc12aug-448x448.py']
pretrained = 'checkpoints/deit-b16_in1k_mmwsss.pth'
_backbone = dict(
    vit=dict(model_name='deit_base_patch16_224'),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model = dict(branches=dict(b1=dict(backbone=_backbone), b2=dict(backbone=_backbone)))
