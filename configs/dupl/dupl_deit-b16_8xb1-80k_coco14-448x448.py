# DuPL with DeiT-B/16 (IN-1k, DuPL's default backbone) on COCO 2014 (README: val 43.5 MS+CRF);
# everything else as the ViT-B COCO config.
_base_ = ['./dupl_vit-b16_8xb1-80k_coco14-448x448.py']
pretrained = 'checkpoints/deit-b16_in1k_mmwsss.pth'
_backbone = dict(
    vit=dict(model_name='deit_base_patch16_224'),
    init_cfg=dict(type='Pretrained', checkpoint=pretrained))
model = dict(branches=dict(b1=dict(backbone=_backbone), b2=dict(backbone=_backbone)))
