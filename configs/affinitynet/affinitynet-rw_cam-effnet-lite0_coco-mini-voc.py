# AffinityNet random walk on coco-mini CAMs (PSA settings: beta 8, logt 8, alpha 16).
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir work_dirs/psa_rw \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=AFF_CKPT
_base_ = ['../cam/cam_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py']
aff_checkpoint = ('work_dirs/affinitynet_effnet-lite0_1xb8-300i_coco-mini-voc-pl-psa-'
                  '320x320/iter_300.pth')
pseudo_label_cfg = dict(refiners=[
    dict(
        type='AffinityRandomWalk',
        model=dict(
            config='configs/affinitynet/affinitynet_effnet-lite0_1xb8-300i_'
            'coco-mini-voc-pl-psa-320x320.py',
            checkpoint=aff_checkpoint),
        beta=8,
        logt=8,
        alpha=16,
        radius=5,
        mode='local',
        psa_border_pairs=True),  # PSA's pair set: sources only in the cropped region
])
