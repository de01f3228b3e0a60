# Offline AffinityNet labels (PSA infer_cls.py): CAMs of the CAM stage ->
# [(1 - max cam)^alpha, cams] for alpha_la = 4 and alpha_ha = 32 -> dense CRF
# (10 iters, gaussian 3/3, bilateral 80/13/10) -> combined label
# (fg from la, 0 where ha is bg, 255 in between). SEAM: alpha_ha = 24.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT \
#       --out-dir data/VOCdevkit/VOC2012/affinitynet_labels
_base_ = ['../cam/cam_r50_1xb16-5e_voc12aug-512x512.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='PSAAffinityLabel',
        alpha_la=4,
        alpha_ha=32,
        crf=dict(type='DenseCRF', preset='psa', output='scores')),
])
