# POLE as the release's training code runs it by default: the per-image prompt path of
# clip_tools/clip_utils.py::clip_forward is disabled (mode=False), so the class text is
# ONE fixed prompt per class (its 'best' list, POLE_RELEASE_BEST_PROMPTS, quirks kept:
# 'a photo of cat' has no full stop). Which fixed list the released run used (plain
# name, 'best', sen1-3) is unverified (run_sample.py is missing). No selection step.
_base_ = ['./pole_r50_1xb16-15e_voc12aug-512x512.py']
model = dict(loss_terms=[
    dict(
        type='POLETerm',
        name='pole',
        cam='clims',
        clip=dict(
            type='OpenCLIP',
            arch='ViT-B-32',
            quick_gelu=True,
            checkpoint={{_base_.clip_checkpoint}}),
        dataset='voc',
        version='root',
        text_mode='per_class',
        class_prompts='release_best',
        loss_weights=(10.0, 25.0, 1.0, 0.0),
        cbs_thr=0.26,
        clip_size=224,
        clip_input='inputs'),
])
