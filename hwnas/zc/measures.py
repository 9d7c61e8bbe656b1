"""Zero-cost measures of an untrained network (Abdelfattah et al. 2021; Mellor et al. 2021).

Each function takes a freshly initialized network (train mode, as the reference code
`foresight` scores them) and returns one number, larger = predicted more accurate. Sums run
over the weights of convolutions and linear layers, as `foresight`'s `get_layer_metric_array`.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

_WEIGHTED = (nn.Conv2d, nn.Linear)
_JACOB_K = 1e-5  # foresight's eigenvalue offset


def _weighted_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, _WEIGHTED)]


def _strip_batchnorm(net: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d by Identity in place (synflow scores the BN-free network)."""
    for name, child in net.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(net, name, nn.Identity())
        else:
            _strip_batchnorm(child)
    return net


def synflow(net: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Synaptic flow (Tanaka et al. 2020): sum |theta * dR/dtheta| with R the output sum of the
    network with absolute weights, no BatchNorm, an all-ones input, in double precision."""
    flow = _strip_batchnorm(copy.deepcopy(net)).double()
    with torch.no_grad():
        for tensor in flow.state_dict().values():
            tensor.abs_()
    flow.zero_grad()
    flow(torch.ones(1, *input_shape, dtype=torch.float64)).sum().backward()
    total = 0.0
    for layer in _weighted_layers(flow):
        if layer.weight.grad is not None:
            total += float((layer.weight * layer.weight.grad).abs().sum().detach())
    return total


def data_measures(
    net: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, loss: bool = True, jacobian: bool = True
) -> dict[str, float]:
    """The four batch-based measures from one forward pass.

    loss -> snip (Lee et al. 2019): sum |theta * dL/dtheta| with L the cross-entropy of the
    batch, and grad_norm: sum over layers of ||dL/dW||.
    jacobian -> jacob_cov (NASWOT v1, foresight's `jacob_cov`): correlation matrix of the
    per-image input Jacobians of the output sum, score -sum(log(v + k) + 1/(v + k)) over its
    eigenvalues v; and naswot (Mellor et al. 2021): log|K_H|, K_H[i, j] = number of ReLUs on
    which images i and j have the same on/off pattern.

    foresight runs a forward and a full backward per measure; here one forward feeds a
    weights-only backward of the loss and an input-only backward of the output sum, which gives
    the same numbers for about two thirds of the work. An input-independent network has zero
    Jacobians whose correlations are undefined; they count as perfectly correlated (the worst
    case) instead of NaN. K_H + I keeps log|K_H| finite when every image has the same codes
    (K_H's entries count ~1e5 units, so the identity changes nothing else).
    """
    n = inputs.shape[0]
    codes: list[torch.Tensor] = []

    def record(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        codes.append((args[0].detach().reshape(n, -1) > 0).float())

    hooks = [m.register_forward_pre_hook(record) for m in net.modules() if isinstance(m, nn.ReLU)] if jacobian else []
    try:
        x = inputs.clone().requires_grad_(jacobian)
        out = net(x)
    finally:
        for hook in hooks:
            hook.remove()
    scores: dict[str, float] = {}
    if loss:
        layers = _weighted_layers(net)
        grads = torch.autograd.grad(
            F.cross_entropy(out, labels), [m.weight for m in layers], retain_graph=jacobian, allow_unused=True
        )
        snip = grad_norm = 0.0
        for layer, grad in zip(layers, grads, strict=True):
            if grad is not None:
                snip += float((layer.weight.detach() * grad).abs().sum())
                grad_norm += float(grad.norm())
        scores["snip"], scores["grad_norm"] = snip, grad_norm
    if jacobian:
        (grad,) = torch.autograd.grad(out.sum(), x, allow_unused=True) if out.requires_grad else (None,)
        grad = grad if grad is not None else torch.zeros_like(x)  # None: the output ignores the input
        scores["jacob_cov"] = _jacob_cov(grad.reshape(n, -1).double().numpy())
        scores["naswot"] = _naswot(codes, n)
    return scores


def _jacob_cov(jacobian: np.ndarray) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jacobian)
    corr = np.nan_to_num(corr, nan=1.0)
    eigenvalues = np.clip(np.linalg.eigvalsh(corr), 0.0, None)
    return -float(np.sum(np.log(eigenvalues + _JACOB_K) + 1.0 / (eigenvalues + _JACOB_K)))


def _naswot(codes: list[torch.Tensor], n: int) -> float:
    kernel = torch.zeros(n, n, dtype=torch.float64)
    for c in codes:
        # Agreements = both on + both off = 2 c c^T + units - on_i - on_j (one matmul, exact in
        # float32: every count is far below 2^24).
        on = c.sum(1, keepdim=True)
        kernel += (2 * (c @ c.T) + c.shape[1] - on - on.T).double()
    _, logdet = torch.linalg.slogdet(kernel + torch.eye(n, dtype=torch.float64))
    return float(logdet)
