# SEPL merge on coco-mini (VOC label space) with SAM vit_b: a CPU-sized real-image run
# of the CLIP-ES -> CRF -> SAM chain. Random-weight plumbing check:
#   python tools/generate_pseudo_labels.py <this>.py --out-dir DIR --cfg-options \
#       model.clip_checkpoint=None \
#       pseudo_label_cfg.refiners.2.sam.checkpoint=None
_base_ = ['../clip_es/clip-es_vit-b16_1xb1-trainfree_coco-mini-voc-ori.py']
sam_checkpoint = 'checkpoints/sam/sam_vit_b_01ec64.pth'
pseudo_label_cfg = dict(
    bg_thr=0.5,
    refiners=[
        # official eval_cam_with_crf.py: gaussian (1, 3), bilateral (67, 3, 4)
        dict(type='DenseCRF', preset='more_beco', bg_power=1),
        dict(type='ConfidenceIgnore', thr=0.95),
        dict(
            type='SAMRefiner',
            sam=dict(
                type='SegmentAnything',
                arch='vit_b',
                checkpoint=sam_checkpoint,
                amg_cfg=dict(
                    points_per_side=32,
                    pred_iou_thresh=0.88,
                    stability_score_thresh=0.95,
                    box_nms_thresh=0.7)),
            cache_dir='work_dirs/sam_cache/coco-mini_vit_b_default',
            fg_ratio_thr=0.5,
            cover_thr=0.85,
            keep_cam_label=True,
            union='all',
            keep_ignore=False),
    ])

# tools/run_pipeline.py: SEPL is training-free (replaces the CLIP-ES recipe it inherits, same
# chain plus the SAM merge):
#   pseudo_labels  tools/generate_pseudo_labels.py THIS on the training images: CLIP-ES CAMs
#                  at its fixed background (bg_thr 0.5, the config's), DenseCRF, confidence
#                  ignore, then SEPL's max_iou_imp2 merge with SAM vit_b "everything" masks
#                  (cached in this step's folder, so a killed run resumes)
#   label_eval, stage2 (the shared DeepLabV3+ config), stage2_val
# It needs the real CLIP ViT-B/16 and SAM vit_b files; with random weights (the header's
# --cfg-options) it is a plumbing check only.
_sepl_stage2 = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(
    _delete_=True,
    steps=[
        dict(
            name='pseudo_labels',
            kind='labels',
            config='this',
            cfg_options={'pseudo_label_cfg.refiners.2.cache_dir': '{out}/sam_cache'}),
        dict(name='label_eval', kind='eval_labels', config='this', labels='pseudo_labels'),
        dict(name='stage2', kind='train', config=_sepl_stage2, labels='pseudo_labels'),
        dict(
            name='stage2_val', kind='test', config=_sepl_stage2, checkpoint='stage2', role='final'),
    ])
