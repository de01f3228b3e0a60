from .backbone_output import BackboneOutput
from .img_labels import img_label_of, stack_img_labels
from .train_context import BranchOutput, TrainContext, WSSSBatch
from .wsss_data_sample import WSSSDataSample

__all__ = [
    'BackboneOutput', 'WSSSDataSample', 'stack_img_labels', 'img_label_of', 'TrainContext',
    'BranchOutput', 'WSSSBatch'
]
