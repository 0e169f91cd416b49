"""The swap critic: a conditional discriminator of images decoded from swapped codes (Mathieu et al. 2016).

Mathieu, Zhao, Sprechmann, Ramesh & LeCun, "Disentangling factors of variation
in deep representations using adversarial training", NeurIPS 2016: an image
decoded from the content of one group and the style of another must look like
a real image *of the content's group*. The critic judges an image together with
a condition, either a real image of the group (``"group"``: works for any
grouping) or the one-hot value of the label the group shares (``"class"``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.functional import leaky_relu, linear, one_hot, softplus

__all__ = ["CRITIC_CONDITIONS", "SwapCritic"]

#: what the critic sees beside the image it judges (``model.swap_condition``)
CRITIC_CONDITIONS = ("group", "class")
#: hidden width of the critic
CRITIC_HIDDEN = 256
#: negative slope of the critic's leaky ReLUs
LEAK = 0.2


class SwapCritic(nn.Module):
    """``D(x, c)``: the logit that image ``x`` is a real image of the group or class ``c`` describes.

    Parameters
    ----------
    event_shape
        Shape of one image.
    condition
        ``"group"`` (``c`` is another real image of the group) or ``"class"`` (``c`` is
        the shared label's value, one-hot over ``classes``).
    classes
        Values of the shared label (``"class"`` only).
    """

    def __init__(self, event_shape: tuple[int, ...], condition: str = "group", classes: int = 0) -> None:
        super().__init__()
        if condition not in CRITIC_CONDITIONS:
            raise ValueError(f"unknown critic condition {condition!r}: use one of {', '.join(CRITIC_CONDITIONS)}")
        self.condition, self.classes, self.event_dim = condition, classes, len(event_shape)
        pixels = math.prod(event_shape)
        width = pixels + (pixels if condition == "group" else classes)
        self.layers = nn.ModuleList(
            [nn.Linear(width, CRITIC_HIDDEN), nn.Linear(CRITIC_HIDDEN, CRITIC_HIDDEN), nn.Linear(CRITIC_HIDDEN, 1)]
        )

    def conditions(self, x: Tensor, labels: Tensor | None) -> Tensor:
        """The condition of each member of groups ``x`` ``(B, G, *event_shape)``: ``(B, G, width)``.

        ``"group"``: the next member of the same group (flattened); ``"class"``: the
        one-hot shared label, ``labels`` ``(B,)``.
        """
        if self.condition == "group":
            return x.roll(1, dims=1).flatten(2)
        if labels is None:
            raise ValueError("a class-conditional critic needs the groups' labels")
        code = one_hot(labels.long(), self.classes).to(x.dtype)
        return code[:, None].expand(-1, x.shape[1], -1)

    def forward(self, images: Tensor, condition: Tensor, frozen: bool = False) -> Tensor:
        """Logits ``(...)`` for images ``(..., *event_shape)`` flattened against ``condition`` ``(..., width)``.

        ``frozen``: the parameters enter detached, so gradients reach the inputs only.
        """
        flat = images.flatten(-self.event_dim)
        batch = torch.broadcast_shapes(flat.shape[:-1], condition.shape[:-1])
        h = torch.cat([flat.expand(*batch, -1), condition.expand(*batch, -1)], -1)
        for i, layer in enumerate(self.layers):
            weight, bias = (layer.weight.detach(), layer.bias.detach()) if frozen else (layer.weight, layer.bias)
            h = linear(h if i == 0 else leaky_relu(h, LEAK), weight, bias)
        return h.squeeze(-1)

    def generator_loss(self, fakes: Tensor, condition: Tensor) -> Tensor:
        """``-log D(fake)`` per image (the non-saturating loss the VAE minimizes), critic frozen."""
        return softplus(-self(fakes, condition, frozen=True))

    def loss(self, reals: Tensor, fakes: Tensor, condition: Tensor) -> Tensor:
        """The critic's own loss: ``-log D(real) - log(1 - D(fake))``, summed (fakes enter detached)."""
        return softplus(-self(reals, condition)).sum() + softplus(self(fakes.detach(), condition)).sum()
