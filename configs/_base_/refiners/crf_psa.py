# Dense CRF as PSA / SEAM / ToCo ``crf_inference`` (CAM -> seeds): softmax unary
# on [(1 - max cam) ** alpha, cams of the present classes], 10 iterations,
# gaussian (sxy 3, compat 3), bilateral (sxy 80, srgb 13, compat 10).
# alpha: PSA uses 4 (low) / 32 (high), SEAM 4 / 24. Use from a config:
#   _base_ = [..., '../_base_/refiners/crf_psa.py']
#   pseudo_label_cfg = dict(refiners=[{{_base_.crf_psa}}])
# ({{_base_.x}} is the base value; for another alpha write the dict out or use
# pseudo_label_cfg.refiners.0.bg_power=24 with --cfg-options.)
crf_psa = dict(type='DenseCRF', preset='psa', bg_power=4, output='scores')

# The same CRF writing hard labels (argmax over bg + present classes).
crf_psa_label = dict(type='DenseCRF', preset='psa', bg_power=4, output='label')
