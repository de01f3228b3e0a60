# RS-TextWS-Seg stage 2 model primitive: CLIP-ES (Grad-CAM of the softmax over [present
# classes + background texts], class-aware attention affinity) on the stage-1 fine-tuned CLIP,
# whose trained tensors are read (safe loader) over the CLIP file; then CLIP-ES's pseudo-label
# chain (DenseCRF + confidence ignore 0.95). Shares CLIP, templates and preprocessing with
# stage 1 (rs-textws-seg_vit-b16.py).
_base_ = ['./rs-textws-seg_vit-b16.py']
model = dict(
    _delete_=True,
    type='RSTextWSCLIPES',
    data_preprocessor={{_base_.data_preprocessor}},
    clip={{_base_.clip}},
    clip_checkpoint={{_base_.clip_checkpoint}},
    # the stage-1 checkpoint (set by the dataset config); checkpoint=None = plain CLIP-ES
    finetuned=dict(checkpoint=None, prefixes=('clip.', 'prompt.')),
    prompt=None,  # = the stage-1 model's `prompt`
    class_names=[],  # set by the dataset config (= stage 1's)
    bg_class_names=[],  # set by the dataset config (must not name a foreground class)
    templates={{_base_.templates}},
    scales=(1.0, ),  # CLIP-ES: single scale
    cam_type='caa',
    attn_layers=8,
    sinkhorn_iters=3,
    box_thr=0.4,  # CLIP-ES's VOC value (COCO 0.7); open choice for RS
    bg_thr=0.5,
    input_resize='pil_bicubic')
# CLIP-ES's eval_cam_with_crf.py: bg = 1 - max cam, DenseCRF, confidence < 0.95 -> ignore
pseudo_label_cfg = dict(
    bg_thr=0.5,
    refiners=[
        dict(type='DenseCRF', preset='more_beco', bg_power=1),
        dict(type='ConfidenceIgnore', thr=0.95),
    ])
