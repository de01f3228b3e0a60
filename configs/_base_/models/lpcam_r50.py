# LPCAM (Chen & Sun CVPR'23) on IRN's ResNet-50 CAM classifier (cam_r50.py, trained as is):
# the CAM network is unchanged; after training, the offline path
# (tools/make_prototype_cams.py) clusters its stage-4 features per class and the model
# predicts local-prototype CAMs instead of classifier CAMs (step/make_lpcam.py).
_base_ = ['./cam_r50.py']
model = dict(
    type='LPCAMClassifier',
    prototype_dir=None,  # the prototypes/ folder the tool writes
    cam_source='lpcam',  # 'classifier': the plain CAM of the same checkpoint
    scale_merge='mean',
    # make_lpcam: scales (1.0, 0.5, 1.5, 2.0), IRN's PIL-bicubic rescale, stride-16
    # upsample-then-crop; LPCAM's cam_eval_thres 0.3
    test_cfg=dict(preset='irn', bg_thr=0.3))
# clustering: 'voc' defaults (K 12, select_thres 0.1, class_thres 0.9, context 0.05 < p < 0.9)
# or 'coco' (K 20, select 0.25, context 0 < p < 0.5, 100 images per class, seed 666);
# any key of mmwsss.models.prototypes.lpcam.LPCAM_DEFAULTS overrides, plus seed (k-means,
# class c uses seed + c), keep_best, kmeans (scikit-learn options), feat_dtype.
prototype_cfg = dict(dataset='voc')
