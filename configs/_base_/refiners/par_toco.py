# PAR as ToCo's ``refine_cams_with_bkg_v2`` (AFA's PAR: dilations 1..24,
# 10 iterations, w1 0.3, w2 0.01) at half resolution: label_h with bg 0.70,
# label_l with bg 0.25; fg from label_h, bg where both say bg, 255 between.
# The image PAR sees is the uint8 RGB image / 255 (ToCo's denormalize_img2).
par_toco = dict(
    type='PARRefiner',
    dilations=(1, 2, 4, 8, 12, 24),
    num_iter=10,
    w1=0.3,
    w2=0.01,
    bg_high=0.7,
    bg_low=0.25,
    down_scale=2,
    img_norm='unit',
    mode='bg_band')

# COCO (ToCo's COCO script: high 0.65; AFA runs 15 PAR iterations on COCO).
par_toco_coco = dict(par_toco, bg_high=0.65)
par_afa_coco = dict(par_toco, num_iter=15)
