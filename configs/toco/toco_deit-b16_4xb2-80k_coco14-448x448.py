# ToCo with DeiT-B/16 (IN-1k) on COCO 2014 (README: val 41.3 MS+CRF); everything else as the
# ViT-B COCO config (term onsets 8k / 12k, bkg 0.45, high 0.65).
_base_ = ['./toco_vit-b16_4xb2-80k_coco14-448x448.py']
pretrained = 'checkpoints/deit-b16_in1k_mmwsss.pth'
model = dict(
    backbone=dict(
        vit=dict(model_name='deit_base_patch16_224'),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
