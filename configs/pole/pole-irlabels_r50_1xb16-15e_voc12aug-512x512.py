# POLE's cam_to_ir_label on train_aug (run_CLIMS.sh, second command; the thresholds are
# CLIMS's run_sample.py defaults, POLE's is missing): IRN IR labels from the POLE CAMs
# with conf_fg_thres 0.30 and conf_bg_thres 0.10 (IRN's own default is 0.05),
# dense CRF with a label unary; then train configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py
# on them (IRN: crop 512, batch 32, 3 epochs, lr 0.1, as run_sample.py):
#   python tools/generate_pseudo_labels.py THIS POLE_CKPT \
#       --out-dir data/VOCdevkit/VOC2012/ir_labels_pole
#   python tools/train.py configs/irn/irn_r50_1xb32-3e_voc12aug-pl-ir-512x512.py \
#       --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=ir_labels_pole
_base_ = ['./pole_r50_1xb16-15e_voc12aug-512x512.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRLabel',
        fg_thr=0.30,
        bg_thr=0.10,
        crf=dict(type='DenseCRF', preset='irn_label', output='label')),
])
