# Offline AffinityNet labels on coco-mini from the CPU CAM baseline: two dense CRFs
# per image (bg power alpha_la 4 / alpha_ha 32, PSA crf_inference settings).
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT \
#       --out-dir data/coco-mini-voc/affinitynet_labels
_base_ = ['../cam/cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='PSAAffinityLabel',
        alpha_la=4,
        alpha_ha=32,
        crf=dict(type='DenseCRF', preset='psa', output='scores')),
])
