# PPC (Du et al., CVPR'22) on SEAM: SEAM's ResNet-38 + PCM model (seam_resnet38d.py) with the
# projection head f_proj = ReLU(Conv1x1 4096 -> 128)(Dropout2d(conv6)) beside fc8 (one dropout
# mask for both), view 2 = the crop resized to 128 x 128 (PPC's contrast_train.py; SEAM's own
# is x0.3), and one term with SEAM's four losses plus PPC's three contrast losses.
# Reference: usr922/wseg master contrast_train.py, network/resnet38_contrast.py,
# contrast_infer.py (methods-prototype.md §1).
_base_ = ['./seam_resnet38d.py']

model = dict(
    data_preprocessor=dict(
        views=dict(
            small=dict(
                source='main',
                # img2 = F.interpolate(img1, size=(128, 128), mode='bilinear',
                # align_corners=True)
                aug=dict(_delete_=True, type='GeometricView', size=(128,
                                                                    128), align_corners=True)))),
    cam_heads=dict(cam=dict(type='PPCCAMHead', proj_channels=128)),
    loss_terms=[
        dict(
            type='SEAMPPCTerm',
            name='ppc',
            branch='net',
            cam='cam',
            small_pass='small',
            ppc=dict(
                size=(16, 16),  # 128 // 8: both views' cam_rv_down / f_proj resized to it
                bg_thr=0.20,  # --bg_threshold: the constant background score
                topk_div=8,  # K = 16 * 16 // 8 = 32 pixels per prototype, over the batch
                tau=0.1,
                gamma=0.1,  # each of the three losses: 0.1 * (view 1 + view 2) / 2
                mining_topk=13,  # semi-hard prototype mining: topk(13)[:, 3:]
                mining_skip=3,
                hard_ratio=0.6))  # hard pixels: last n // 2 of the lowest int(0.6 n)
    ])
# inference, optimiser (PolySGD groups x1 / x2 / x10 / x20, momentum_quirk option): SEAM's.
# contrast_infer.py is infer_SEAM.py on the PPC net: cam_rv[:, 1:], scales (0.5, 1, 1.5, 2)
# x flip summed, min-max, bg 0.26 for the PNG.
