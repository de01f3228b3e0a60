"""The one freezing helper: no gradients and eval mode for a (sub)module."""
import torch.nn as nn


def freeze(module: nn.Module, eval_mode: bool = True) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter of ``module``.

    With ``eval_mode`` the module is also put in eval mode (BN statistics and
    dropout frozen). A module that must stay in eval mode through later
    ``model.train()`` calls re-freezes in its own ``train`` override with
    :func:`keep_eval`.
    """
    module.requires_grad_(False)
    if eval_mode:
        module.eval()
    return module


def keep_eval(module: nn.Module) -> None:
    """Put ``module`` back into eval mode (call from an owner's ``train()``)."""
    module.eval()
