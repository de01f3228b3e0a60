# POLE (Murugesan, Hussain, Bhattacharya, Ben Ayed, Dolz, WACV'24, "Prompting classes";
# official code Ruxie189/WSS_POLE, a CLIMS fork; reference methods-foundation.md §5) on
# the single-stage chassis. POLE = CLIMS (configs/_base_/models/clims_r50.py, the root
# version: IRN-style ResNet-50, sigmoid maps, frozen OpenAI CLIP ViT-B/32) + one offline
# step before training:
#   selection   tools/pole_select_prompts.py THIS CAM_CKPT --out PROMPTS.json: per train
#               image and present class, the baseline CAM (IRN make_cam high_res of the
#               classifier POLE starts from) masks the image, CLIP scores
#               'A photo of {token}.' for each candidate token of the class, softmax,
#               argmax -> the image's token (pole_selection below).
#   training    POLETerm: CLIMS's L_OTM / L_BTM with the image's chosen prompt as the
#               class text, CLIMS's CBS (10 VOC background prompts, tau 0.26), and the
#               release's --hyper 10,25,1,0 (BTM 25, no area term; CLIMS: 10,24,1,0.2).
_base_ = ['./clims_r50.py']
pole_template = 'A photo of {}.'
# written by tools/pole_select_prompts.py (read at the first training step)
pole_prompt_file = 'work_dirs/pole_r50_voc12aug/prompts.json'
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
        text_mode='per_image',
        prompt_file=pole_prompt_file,
        text_template=pole_template,
        loss_weights=(10.0, 25.0, 1.0, 0.0),  # run_CLIMS.sh --hyper 10,25,1,0
        cbs_thr=0.26,
        clip_size=224,
        clip_input='inputs'),
])
# the offline selection (clip_selection.py): same CLIP file as training; candidates:
# ours (mmwsss/models/foundation/pole_synonyms.py) or a user JSON file; the official
# cv2-BGR read and uint8 wrap of image * cam * 255 are options, off (the paper's intent)
pole_selection = dict(
    clip=dict(
        type='OpenCLIP', arch='ViT-B-32', quick_gelu=True, checkpoint={{_base_.clip_checkpoint}}),
    dataset='voc',
    candidates=None,
    template=pole_template,
    clip_size=224,
    clip_pool='tok',
    bgr=False,
    uint8_wrap=False,
    dataloader=None,  # pseudo_label_dataloader: the training split, no augmentation
    seed=0)
