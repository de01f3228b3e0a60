# IRN ``crf_inference_label`` (CAM -> IR labels): label unary with gt_prob 0.7,
# 10 iterations, gaussian (3, 3), bilateral (sxy 50, srgb 5, compat 10).
# The label is ``state['label']`` when a previous refiner set it, otherwise
# argmax over [bg_score, cams]: IRN uses conf_fg_thres 0.30 and conf_bg_thres 0.05.
crf_irn_label = dict(type='DenseCRF', preset='irn_label', bg_score=0.30)
crf_irn_label_bg = dict(type='DenseCRF', preset='irn_label', bg_score=0.05)

# Segmentation post-processing sets (softmax of the segmentation scores in
# state['scores'], all classes unless img_labels are given):
crf_seg_toco = dict(type='DenseCRF', preset='toco_seg', restrict_to_labels=False)
crf_seg_more = dict(type='DenseCRF', preset='more_beco', restrict_to_labels=False)
crf_seg_afa = dict(type='DenseCRF', preset='afa', restrict_to_labels=False)
