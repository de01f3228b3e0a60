# CPN (Zhang et al., ICCV'21) on the single-stage chassis: SEAM's network (ResNet-38 + fc8 + PCM)
# plus PRCM, the crop and its complementary superpixel pair (the pipeline's
# SuperpixelComplementaryPair, packed as two views) through the same branch, one term with
# L_cls + L_min + L_tcp + L_cpcr. Reference: Ferenas/CPN train_cpn.py, network/resnet38_CPN.py,
# network/da_atten.py, tool/imutils.py, infer_cam.py (methods-consistency.md §0, §4).
_base_ = ['./seam_resnet38d.py']
model = dict(
    data_preprocessor=dict(
        # img1 = img * sign, img2 = img * (1 - sign): the pipeline's float views hold the
        # preprocessor mean where hidden, i.e. exactly 0 after this normalisation
        views=dict(
            _delete_=True, visible=dict(source='visible_img'), hidden=dict(source='hidden_img'))),
    cam_heads=dict(cam=dict(with_prcm=True)),  # f10 + SpatialGather, f9 shared with PCM
    view_passes=dict(
        _delete_=True,
        visible=dict(branch='net', view='visible', cam_heads=(), with_seg=False),
        hidden=dict(branch='net', view='hidden', cam_heads=(), with_seg=False)),
    loss_terms=[
        dict(
            type='CPNTerm',
            name='cpn',
            branch='net',
            cam='cam',
            visible_pass='visible',
            hidden_pass='hidden',
            ratio_key='visible_ratio')
    ],
    # infer_cam.py: SEAM's inference, then norm_cam / 2 ("compresses the foreground values
    # for the background search"). The halving is not applied: a threshold t of CPN's
    # evaluation_cam.py (grid 0.20-0.59) is the threshold 2t here.
    test_cfg=dict(cam=dict(preset='seam', bg_thr=0.5)))
# the official PolyOptimizer groups; the new layers are fc8, f8_3, f8_4, f9, f10 (x10)
