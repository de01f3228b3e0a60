# SEAM + PPC, CPU-sized, on coco-mini (104 train images, VOC label space) with the REAL
# ImageNet EfficientNet-Lite0 weights. It is the SEAM CPU config
# (configs/seam/seam_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py: backbone, PCM features,
# crop 256, batch 4, 208 iterations = 8 epochs, lr 0.01, poly 0.9, seed 0; its scaling is in
# its header) plus PPC and NOTHING else, so that the two runs compare directly:
#   f_proj    Conv1x1 4096 -> 128 on conv6  -> Conv1x1 1280 -> 128 on the head conv (the
#             feature the CPU fc8 reads), after the same Dropout2d, x10 lr (cam_heads)
#   view 2    128 x 128 (PPC)               -> SEAM's CPU view 2 kept: the crop x0.3 (76 px;
#             128 / 448 = 0.29 of PPC's crop), so the SEAM losses are the SEAM run's
#   grid      both views -> 16 x 16          unchanged: 16 x 16 is view 1's own grid here
#             (256 / 16) and view 2's 5 x 5 grid is resized up to it by the same bilinear
#             align_corners=True call (the official resizes view 1 down to view 2's 16 x 16)
#   K         16 * 16 // 8 = 32 per class over the batch; bg 0.20, tau 0.1, weights 0.1,
#             mining 13 / 3, hard 0.6: unchanged
# Run: python3 tools/train.py THIS \
#          --work-dir work_dirs/ppc_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc
# Seeds (coco-mini train, threshold sweep): tools/test.py THIS CKPT --data-root ...
_base_ = ['../seam/seam_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py']
model = dict(
    cam_heads=dict(cam=dict(type='PPCCAMHead', proj_channels=128)),
    loss_terms=[
        dict(
            type='SEAMPPCTerm',
            name='ppc',
            branch='net',
            cam='cam',
            small_pass='small',
            ppc=dict(
                size=(16, 16),
                bg_thr=0.20,
                topk_div=8,
                tau=0.1,
                gamma=0.1,
                mining_topk=13,
                mining_skip=3,
                hard_ratio=0.6))
    ])

# tools/run_pipeline.py / tools/benchmark.py: the chain behind the README's measured numbers,
# written out (not SEAM's inherited recipe, so that a change there does not move this row).
#   stage1         tools/train.py on this config (reuse work_dirs/q6/ppc/iter_208.pth)
#   seeds          tools/test.py of this config: its test split is TRAIN and its evaluator a
#                  CAMMetric threshold sweep (PCM output, SEAM's inference)
#   pseudo_labels  the same CAMs on the training images at the sweep's best bg_thr (CAM labels
#                  with a background threshold; no AffinityNet walk was run on coco-mini)
#   stage2         the shared DeepLabV3+ stage 2 of every coco-mini row, then its val test
_this = 'configs/ppc/ppc_effnet-lite0_1xb4-208i_coco-mini-voc-256x256.py'
_seg = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'
wsss_recipe = dict(
    _delete_=True,
    steps=[
        dict(name='stage1', kind='train', config=_this),
        dict(name='seeds', kind='test', config=_this, checkpoint='stage1', role='seeds'),
        dict(
            name='pseudo_labels', kind='labels', config=_this, checkpoint='stage1', bg_thr='seeds'),
        dict(name='label_eval', kind='eval_labels', labels='pseudo_labels', config=_this),
        dict(name='stage2', kind='train', config=_seg, labels='pseudo_labels'),
        dict(name='stage2_val', kind='test', config=_seg, checkpoint='stage2', role='final'),
    ])
