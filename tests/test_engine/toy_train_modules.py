"""A model and a dataset small enough to train for a few iterations in a subprocess
(tests/test_engine): imported through the config's ``custom_imports``."""
import torch
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from mmwsss.registry import DATASETS, MODELS


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """y = w x + b, with enough weights that a checkpoint is a few hundred KB."""

    def __init__(self, width: int = 256):
        super().__init__()
        self.hidden = torch.nn.Linear(2, width)
        self.out = torch.nn.Linear(width, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.out(torch.relu(self.hidden(inputs)))
        if mode == 'loss':
            return dict(loss=((out - labels)**2).mean())
        return out


@DATASETS.register_module(force=True)
class ToyRegressionData(Dataset):

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return dict(inputs=torch.tensor([float(i), 1.]), labels=torch.tensor([float(i)]))
