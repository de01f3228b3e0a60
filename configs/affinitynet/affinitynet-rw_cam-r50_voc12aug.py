# AffinityNet random walk (PSA infer_aff.py) on the CAM stage's CAMs:
# beta 8, logt 8 (256 steps), bg power alpha 16, radius 5 on the stride-8 map.
# SEAM's settings: alpha 6, logt 6.
#   python tools/generate_pseudo_labels.py THIS_CONFIG CAM_CKPT --out-dir work_dirs/psa_rw \
#       --cfg-options pseudo_label_cfg.refiners.0.model.checkpoint=AFF_CKPT
_base_ = ['../cam/cam_r50_1xb16-5e_voc12aug-512x512.py']
aff_checkpoint = 'work_dirs/affinitynet_r50-d8_1xb8-8e_voc12aug-pl-psa-448x448/epoch_8.pth'
pseudo_label_cfg = dict(refiners=[
    dict(
        type='AffinityRandomWalk',
        model=dict(
            config='configs/affinitynet/'
            'affinitynet_r50-d8_1xb8-8e_voc12aug-pl-psa-448x448.py',
            checkpoint=aff_checkpoint),
        beta=8,
        logt=8,
        alpha=16,
        radius=5,
        mode='local',
        psa_border_pairs=True),  # PSA's pair set: sources only in the cropped region
])
