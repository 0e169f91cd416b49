"""The group VAE's adversaries: the swap critic (Mathieu et al. 2016) and the gradient-reversal adversary on ``z``.

- the critic's generator term reaches the images only (the critic is frozen in
  it), with the value ``-w * -log D(fake)`` per member, and only in training;
- the adversary's term is ``w * -log A(y | z)`` per member, and its gradient
  into the encoder is reversed;
- the trainer steps the critic on its own optimizer, after the ELBO's step on
  the same batch, and resumes it exactly;
- settings that cannot work are refused before anything is trained.
"""

from __future__ import annotations

import re

import pyro
import pytest
import torch
from pyro import poutine
from pyro_vae.guides.group_vae import GroupVAEGuide
from pyro_vae.models.group_vae import GroupVAEModel
from small_shapes import small_shapes
from torch import nn
from torch.nn.functional import cross_entropy, softplus

from pyro_vae.likelihoods import LIKELIHOODS
from pyro_vae.networks.critic import SwapCritic
from pyro_vae.priors import PRIORS

S_DIM, Z_DIM, EVENT = 2, 3, (1, 4, 4)


def _programs(condition: str = "group", swap: float = 0.5, adversary: float = 2.0, classes: int = 3):
    torch.manual_seed(0)
    pixels = 16
    decoder = nn.Sequential(nn.Linear(S_DIM + Z_DIM, pixels), nn.Unflatten(-1, (1, *EVENT)))
    likelihood = LIKELIHOODS.build("continuous_bernoulli", event_shape=EVENT)
    critic = SwapCritic(EVENT, condition, classes)
    model = GroupVAEModel(
        PRIORS.build("normal", z_dim=S_DIM), PRIORS.build("normal", z_dim=Z_DIM), decoder, likelihood, critic, swap
    )
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 2 * (S_DIM + Z_DIM)))
    guide = GroupVAEGuide(encoder, S_DIM, Z_DIM, "product", nn.Linear(Z_DIM, classes), adversary)
    return model, guide


def _batch(b: int = 5, g: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(b, g, *EVENT, generator=generator), torch.randint(3, (b,), generator=generator)


@pytest.mark.parametrize("condition", ["group", "class"])
def test_the_generator_term_is_minus_w_log_d_of_the_swapped_images_and_leaves_the_critic_alone(condition):
    model, guide = _programs(condition)
    x, y = _batch()
    guide_trace = poutine.trace(guide).get_trace(x, y)
    trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x, y)
    s, z = guide_trace.nodes["s"]["value"], guide_trace.nodes["z"]["value"]
    fakes = model.likelihood.mean(model.decoder(torch.cat([s.expand(-1, 3, -1), z.roll(1, dims=0)], -1)))
    expected = -0.5 * softplus(-model.critic(fakes, model.critic.conditions(x, y)))
    term = trace.nodes["swap_adversary"]["fn"].log_factor
    torch.testing.assert_close(term, expected)
    assert term.shape == (5, 3)
    term.sum().backward()
    assert all(p.grad is None for p in model.critic.parameters())
    assert model.decoder[0].weight.grad.abs().sum() > 0


def test_the_class_condition_is_the_shared_label_one_hot_and_the_group_condition_another_member():
    model, _ = _programs("class")
    x, y = _batch()
    torch.testing.assert_close(model.critic.conditions(x, y)[:, 1], torch.eye(3)[y])
    group, _ = _programs("group")
    torch.testing.assert_close(group.critic.conditions(x, None)[:, 1], x[:, 0].flatten(1))


def test_the_terms_are_absent_in_evaluation_mode():
    model, guide = _programs()
    model.eval(), guide.eval()
    x, y = _batch()
    guide_trace = poutine.trace(guide).get_trace(x, y)
    trace = poutine.trace(poutine.replay(model, trace=guide_trace)).get_trace(x, y)
    assert "adversary" not in guide_trace.nodes and "swap_adversary" not in trace.nodes


def test_the_adversary_term_is_its_cross_entropy_with_the_gradient_into_z_reversed():
    _, guide = _programs(adversary=2.0)
    x, y = _batch()
    pyro.set_rng_seed(3)
    trace = poutine.trace(guide).get_trace(x, y)
    z = trace.nodes["z"]["value"]
    term = trace.nodes["adversary"]["fn"].log_factor
    expected = 2.0 * cross_entropy(guide.adversary(z).flatten(0, 1), y.repeat_interleave(3), reduction="none")
    torch.testing.assert_close(term, expected.view(5, 3))
    # the adversary descends its cross-entropy; the encoder gets the opposite of the plain gradient
    (reversed_grad,) = torch.autograd.grad(term.sum(), guide.encoder[1].weight, retain_graph=True)
    plain = 2.0 * cross_entropy(guide.adversary(z).flatten(0, 1), y.repeat_interleave(3), reduction="sum")
    (plain_grad,) = torch.autograd.grad(plain, guide.encoder[1].weight)
    torch.testing.assert_close(reversed_grad, -plain_grad)


# -- in training ------------------------------------------------------------------------------------------------

SHAPES = small_shapes(
    model__kind="group_vae",
    model__z_dim=2,
    model__s_dim=2,
    model__adversary=5.0,
    model__swap_adversary=1.0,
    seed=2,
)


def _trainer(**overrides):
    from pyro_vae.assemble import initial_vae, prepare_data
    from pyro_vae.config import resolve_config
    from pyro_vae.training import Trainer

    config = resolve_config(None, **{**SHAPES, **overrides})
    data = prepare_data(config)
    return Trainer(initial_vae(config, data), config, data, progress=False)


@pytest.mark.parametrize("condition", ["group", "class"])
def test_the_critic_has_its_own_optimizer_and_steps_after_the_elbo(condition):
    trainer = _trainer(**{"model.swap_condition": condition})
    critic = set(map(id, trainer.vae.model.critic.parameters()))
    elbo_params = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    critic_params = {id(p) for group in trainer.critic_optimizer.param_groups for p in group["params"]}
    assert critic_params == critic and not elbo_params & critic
    # the gradient-reversed adversary learns with the ELBO
    assert {id(p) for p in trainer.vae.guide.adversary.parameters()} <= elbo_params

    seen = {}
    critic_loss = trainer.vae.critic_loss

    def spy(x, y):
        seen["decoder"] = next(trainer.vae.model.decoder.parameters()).detach().clone()
        seen["labels"] = y
        return critic_loss(x, y)

    trainer.vae.critic_loss = spy
    before = [p.detach().clone() for p in trainer.vae.model.critic.parameters()]
    trainer.train_epoch()
    assert torch.equal(seen["decoder"], next(trainer.vae.model.decoder.parameters()))  # the ELBO stepped first
    assert seen["labels"].dim() == 1  # the label each group shares
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.vae.model.critic.parameters(), strict=True))


@pytest.mark.parametrize("condition", ["group", "class"])
def test_the_critic_learns_which_images_match_their_condition(condition):
    """Reals: images whose bright pixel is their group's (or class's); fakes: another group's bright pixel."""
    torch.manual_seed(0)
    critic = SwapCritic(EVENT, condition, classes=4)
    optimizer = torch.optim.Adam(critic.parameters(), lr=1e-2)
    labels = torch.arange(4).repeat(8)
    reals = torch.nn.functional.one_hot(labels, 16).float().view(32, 1, *EVENT).expand(-1, 2, *EVENT)
    fakes = reals.roll(1, dims=0)
    condition_of = critic.conditions(reals, labels)
    chance = 2 * 32 * 2 * torch.log(torch.tensor(2.0))  # -log 1/2 for each real and fake image
    for _ in range(100):
        optimizer.zero_grad()
        critic.loss(reals, fakes, condition_of).backward()
        optimizer.step()
    assert critic.loss(reals, fakes, condition_of).item() < 0.05 * chance.item()


def test_a_run_with_adversaries_resumes_exactly(tmp_path):
    import pyro_vae

    straight = pyro_vae.fit(**{**SHAPES, "train.epochs": 2}, out=tmp_path / "straight", progress=False, pictures=False)
    pyro_vae.fit(**SHAPES, out=tmp_path / "split", progress=False, pictures=False)
    resumed = pyro_vae.resume(tmp_path / "split", overrides=["train.epochs=2"], pictures=False)
    a, b = straight.vae.state_dict(), resumed.vae.state_dict()
    assert any("critic" in k for k in a) and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.summary["test_elbo"] == straight.summary["test_elbo"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"data.groups": "pairs", "model.swap_adversary": 0.0},
            "model.adversary read the label each group shares, but data.groups = 'pairs'",
        ),
        (
            {"data.groups": "pairs", "model.adversary": 0.0, "model.swap_condition": "class"},
            "model.swap_condition = 'class' read the label each group shares",
        ),
        ({"model.swap_condition": "image"}, "model.swap_condition must be one of group, class, got 'image'"),
        ({"model.swap_adversary": -1.0}, "model.swap_adversary must be a non-negative number"),
        ({"model.adversary": -1.0}, "model.adversary must be a non-negative number"),
        (
            {"model.kind": "ada_gvae", "data.groups": "pairs", "model.swap_adversary": None, "model.s_dim": None},
            "model.adversary applies to model kind 'group_vae' or 'ss_vae' only, not 'ada_gvae'",
        ),
    ],
    ids=[
        "adversary-on-pairs",
        "class-critic-on-pairs",
        "unknown-condition",
        "negative-swap",
        "negative-adversary",
        "adversary-for-ada-gvae",
    ],
)
def test_adversaries_that_cannot_work_are_refused_before_the_run_directory(tmp_path, overrides, message):
    import pyro_vae

    options = {k: v for k, v in {**SHAPES, **overrides}.items() if v is not None}
    with pytest.raises(pyro_vae.ConfigError, match=re.escape(message)):
        pyro_vae.fit(**options, out=tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
