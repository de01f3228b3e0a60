# SEPL (Chen et al., arXiv 2305.05803): SAM-enhanced pseudo labels. Each SAM automatic
# mask takes the class whose pseudo label covers most of it (> 50% of the mask, or
# >= 85% of the class); the CAM label is kept where SAM has no mask.
# Here the pseudo labels come from CLIP-ES + CRF (SEPL's paper used TransCAM); SAM runs
# once per image and its masks are cached in `cache_dir`, so re-running with other CAMs
# does not re-run SAM.
#   python tools/generate_pseudo_labels.py configs/sepl/<this>.py --out-dir DIR
_base_ = ['../clip_es/clip-es_vit-b16_1xb1-trainfree_voc12aug-ori.py']
sam_checkpoint = 'checkpoints/sam/sam_vit_h_4b8939.pth'
pseudo_label_cfg = dict(
    bg_thr=0.5,
    refiners=[
        # official eval_cam_with_crf.py: gaussian (1, 3), bilateral (67, 3, 4)
        dict(type='DenseCRF', preset='more_beco', bg_power=1),
        dict(type='ConfidenceIgnore', thr=0.95),
        dict(
            type='SAMRefiner',
            # SAM's automatic mask generator with its default parameters (SEPL used the
            # official scripts/amg.py; the exact settings are not published)
            sam=dict(
                type='SegmentAnything',
                arch='vit_h',
                checkpoint=sam_checkpoint,
                amg_cfg=dict(
                    points_per_side=32,
                    pred_iou_thresh=0.88,
                    stability_score_thresh=0.95,
                    box_nms_thresh=0.7)),
            cache_dir='work_dirs/sam_cache/vit_h_default',
            fg_ratio_thr=0.5,
            cover_thr=0.85,
            keep_cam_label=True,
            union='all',  # 'unclaimed' = the official code's union quirk
            keep_ignore=False),  # official: ignore (255) is not carried over
    ])
