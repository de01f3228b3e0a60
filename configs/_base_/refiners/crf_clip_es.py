# CLIP-ES pseudo masks (eval_cam_with_crf.py): bg = (1 - max cam) ** 1, softmax
# unary, 10 iterations, gaussian (sxy 1, compat 3), bilateral (67, 3, 4); the
# confidence-guided loss ignores pixels whose top CRF marginal is below 0.95.
# Unlike the official code, the CRF sees the plain RGB photo (CLIP-ES feeds BGR
# minus the mean cast to uint8, which wraps around; see docs/en/refiners.md).
crf_clip_es = dict(type='DenseCRF', preset='clip_es', bg_power=1, output='label', ignore_below=0.95)
