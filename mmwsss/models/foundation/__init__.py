"""Foundation models (CLIP via open_clip_torch, SAM via segment-anything).

Both packages are optional: nothing here imports them at module import time, so
``import mmwsss.models`` works without them; building the models raises a clear
ImportError instead.
"""
from .class_names import (CLIP_ES_TEMPLATES, COCO_CLIP_ES_BG_NAMES, COCO_CLIP_ES_NAMES,
                          VOC_CLIP_ES_BG_NAMES, VOC_CLIP_ES_NAMES)
from .clip_checkpoint import load_clip_state_dict, load_state_dict_checked, save_openai_torchscript
from .mask_cache import MaskCache, image_key
from .open_clip_model import CLIP_MEAN, CLIP_STD, TINY_CLIP_CFG, OpenCLIP
from .sam import (LITEMEDSAM_BUNDLED, SAM_ARCHS, FixedResizeLongestSide, LiteMedSAM,
                  LiteMedSAMResize, SegmentAnything, build_litemedsam, build_sam,
                  litemedsam_checkpoint, litemedsam_normalize, load_sam_state_dict)

__all__ = [
    'CLIP_ES_TEMPLATES', 'COCO_CLIP_ES_BG_NAMES', 'COCO_CLIP_ES_NAMES', 'VOC_CLIP_ES_BG_NAMES',
    'VOC_CLIP_ES_NAMES', 'load_clip_state_dict', 'load_state_dict_checked',
    'save_openai_torchscript', 'MaskCache', 'image_key', 'CLIP_MEAN', 'CLIP_STD', 'TINY_CLIP_CFG',
    'OpenCLIP', 'SAM_ARCHS', 'FixedResizeLongestSide', 'SegmentAnything', 'build_sam'
]
from .frozen_encoder import FrozenImageEncoder  # noqa: E402

__all__ += ['FrozenImageEncoder']
__all__ += [
    'LITEMEDSAM_BUNDLED', 'LiteMedSAM', 'LiteMedSAMResize', 'build_litemedsam',
    'litemedsam_checkpoint', 'litemedsam_normalize', 'load_sam_state_dict'
]
from .maskclip import maskclip_features  # noqa: E402

__all__ += ['maskclip_features']
from .medprompt import MedPromptLearner  # noqa: E402

__all__ += ['MedPromptLearner']
from .prompt_learner import (PromptLearner, encode_prompt_embeddings, fill_prompt_slots,
                             parse_template, template_token_ids)

__all__ += [
    'PromptLearner', 'encode_prompt_embeddings', 'fill_prompt_slots', 'parse_template',
    'template_token_ids'
]
from .clip_finetune import load_partial_state_dict, partial_finetune  # noqa: E402

__all__ += ['load_partial_state_dict', 'partial_finetune']
from .fma import FMASegmentAnything, fma_sams_seed, rock_sand_water_filter  # noqa: E402

__all__ += ['FMASegmentAnything', 'fma_sams_seed', 'rock_sand_water_filter']
