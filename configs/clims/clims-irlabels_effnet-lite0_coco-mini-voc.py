# CLIMS's cam_to_ir_label on coco-mini (conf_fg 0.30, conf_bg 0.10, CRF label unary), for the
# coco-mini IRN (configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py):
#   python tools/generate_pseudo_labels.py THIS work_dirs/clims_coco-mini/iter_195.pth \
#       --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --out-dir /tmp/mmwsss_cache/coco-mini-voc/ir_labels_clims
#   python tools/train.py \
#       configs/irn/irn_effnet-lite0_1xb8-300i_coco-mini-voc-pl-ir-320x320.py \
#       --work-dir work_dirs/irn-clims_coco-mini --data-root /tmp/mmwsss_cache/coco-mini-voc \
#       --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=ir_labels_clims
_base_ = ['./clims_effnet-lite0_1xb8-195i_coco-mini-voc-320x320.py']
pseudo_label_cfg = dict(refiners=[
    dict(
        type='IRLabel',
        fg_thr=0.30,
        bg_thr=0.10,
        crf=dict(type='DenseCRF', preset='irn_label', output='label')),
])
