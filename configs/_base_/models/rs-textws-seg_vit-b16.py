# RS-TextWS-Seg stage 1 model primitive: fine-tune OpenAI CLIP ViT-B/16 (last 4 image blocks,
# ln_post, proj; text tower frozen) so that its zero-shot image-text softmax recognises the
# dataset's classes from image-level labels. Only the trained tensors are saved; stage 2
# (rs-textws-seg-cam_vit-b16.py) reads them over the same CLIP file. The CLIP weights are a
# user file (a missing file fails naming it). Every open choice: configs/rs_textws_seg/README.md.
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'
clip = dict(type='OpenCLIP', arch='ViT-B-16', quick_gelu=True)
# open choice: a domain phrase (CLIP-ES's 'a clean origami {}.' was chosen on VOC photos)
templates = ['a remote sensing image of {}.']
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],  # CLIP mean / std, 0-255 units
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='RSTextWSCLIPTuner',
    data_preprocessor=data_preprocessor,
    clip=clip,
    clip_checkpoint=clip_checkpoint,
    class_names=[],  # set by the dataset config
    templates=templates,
    bg_class_names=[],
    train_blocks=4,  # open choice: the last third of ViT-B/16's 12 blocks
    train_ln_post=True,  # open choice: the image head into the joint space trains too
    train_proj=True,
    # open choice: None = hand-written text, frozen (the abstract's "zero-shot" CLIP);
    # dict(template='{ctx} {name}.', n_ctx=16) learns CoOp context vectors as well (set the
    # same `prompt` in the stage-2 model)
    prompt=None,
    loss='softmax',  # open choice: CLIP's zero-shot softmax, multi-label targets; 'sigmoid'
    loss_bg=False,  # open choice: background texts as always-negative classes
    pool='avg',  # the image embedding CLIP-ES scores in stage 2 (mean of patch tokens)
    save_frozen='auto')  # frozen weights only saved when there is no CLIP file
