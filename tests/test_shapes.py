"""The procedural ``shapes`` data source: determinism, the factor grid, and images that show their factors."""

from __future__ import annotations

import math

import pytest
import torch

from pyro_vae.config import resolve_config
from pyro_vae.data import DATASETS, load_data
from pyro_vae.data.shapes import COLORS, SHAPE_NAMES, factor_names, render_shapes, shapes
from pyro_vae.errors import DataError

LEVELS = (3, 4, 5)  # scales, orientations, positions


def _one(shape: int, scale: int = 2, angle: int = 0, x: int = 2, y: int = 2, size: int = 32) -> torch.Tensor:
    return render_shapes(torch.tensor([[shape, scale, angle, x, y]]), size, LEVELS, supersample=1)[0, 0]


def test_the_same_seed_draws_the_same_images_and_another_seed_others():
    a, b = shapes(image_size=16, n=50, seed=3), shapes(image_size=16, n=50, seed=3)
    assert torch.equal(a.x, b.x) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.labels, shapes(image_size=16, n=50, seed=4).labels)


def test_the_full_grid_holds_every_combination_once():
    raw = shapes(image_size=16, n=0, scales=2, orientations=3, positions=4)
    assert raw.x.shape == (len(SHAPE_NAMES) * 2 * 3 * 4 * 4, 1, 16, 16)
    assert raw.labels.shape == (len(raw.x), len(factor_names()))
    assert len(torch.unique(raw.labels, dim=0)) == len(raw.x)
    assert set(raw.x.unique().tolist()) == {0.0, 1.0}


def test_a_square_covers_its_area_and_grows_with_scale():
    areas = [float(_one(0, scale=s, size=64).sum()) for s in range(3)]
    # half-width 0.32 * (0.5 + 0.5 * s / 2) of the half image (32 px): side 2 * 32 * half
    expected = [(2 * 32 * 0.32 * (0.5 + 0.25 * s)) ** 2 for s in range(3)]
    for area, want in zip(areas, expected, strict=True):
        assert area == pytest.approx(want, rel=0.12)
    assert areas[0] < areas[1] < areas[2]


@pytest.mark.parametrize("shape", range(len(SHAPE_NAMES)), ids=SHAPE_NAMES)
def test_the_position_factors_move_the_centre_of_mass(shape):
    def centre(x: int, y: int) -> tuple[float, float]:
        image = _one(shape, x=x, y=y)
        rows, cols = torch.nonzero(image, as_tuple=True)
        return float(cols.float().mean()), float(rows.float().mean())

    left, right = centre(0, 2), centre(4, 2)
    bottom, top = centre(2, 0), centre(2, 4)
    assert right[0] - left[0] > 10  # x grows to the right
    assert bottom[1] - top[1] > 10  # y grows upwards (image rows grow downwards)


def test_orientation_turns_a_triangle_but_a_quarter_turn_leaves_a_square():
    assert not torch.equal(_one(3, angle=0), _one(3, angle=1))
    # 4 orientations: angle 1 is a quarter turn, under which a square is itself (up to edge pixels)
    assert (_one(0, angle=0) != _one(0, angle=1)).float().mean() < 0.01


def test_the_four_shapes_differ():
    images = [_one(s, size=64) for s in range(len(SHAPE_NAMES))]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert (images[i] != images[j]).float().sum() > 20


def test_the_coloured_variant_adds_a_colour_factor():
    raw = shapes(image_size=16, n=40, color=True, binary=False)
    assert raw.x.shape == (40, 3, 16, 16)
    assert factor_names(color=True)[-1] == "color" and raw.labels.shape == (40, 6)
    for image, colour in zip(raw.x, raw.labels[:, 5], strict=True):
        brightest = image.flatten(1).max(1).values
        assert torch.allclose(brightest, torch.tensor(COLORS[colour]), atol=1e-6) or brightest.max() < 1


def test_shapes_through_a_config_and_the_splits():
    config = resolve_config(
        None, **{"data.name": "shapes", "data.image_size": 16, "data.n": 300, "data.scales": 2, "model.z_dim": 4}
    )
    bundle = load_data(config.data, "none")
    assert bundle.event_shape == (1, 16, 16)
    assert len(bundle.train) + len(bundle.val) + len(bundle.test) == 300
    assert bundle.train.labels.shape[1] == 5
    assert "shapes" in DATASETS


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"image_size": 4}, "image_size must be an integer of at least 8"),
        ({"n": -1}, "n must be an integer of at least 0"),
        ({"positions": 0}, "positions must be an integer of at least 1"),
        ({"scales": 2.5}, "scales must be an integer"),
        ({"orientations": True}, "orientations must be an integer"),
        ({"color": "yes"}, "color must be true or false, got 'yes'"),
        ({"binary": "false"}, "binary must be true or false, got 'false'"),
        ({"seed": -1}, r"seed must be an integer in \[0, 2\*\*32\), got -1"),
        ({"seed": 2**32}, r"seed must be an integer in \[0, 2\*\*32\)"),
        ({"image_size": 100_000}, "need .* GiB, more than the .* GiB available: lower data.n"),
    ],
    ids=[
        "tiny-image",
        "negative-n",
        "no-positions",
        "fractional-scales",
        "bool-orientations",
        "text-color",
        "text-binary",
        "negative-seed",
        "seed-too-large",
        "too-large-for-memory",
    ],
)
def test_bad_options_are_one_clear_error(options, message):
    with pytest.raises(DataError, match=message):
        shapes(**options)


def test_the_largest_shape_fits_at_every_position():
    # the margin keeps a rotated square of the largest scale inside the image at the extreme positions
    image = _one(0, scale=2, angle=1, x=0, y=0, size=64)
    assert image[:, 0].sum() == 0 and image[-1, :].sum() == 0
    assert math.isclose(float(image.sum()) > 0, True)


def test_source_options_outside_the_schema_round_trip_through_toml(tmp_path):
    from pyro_vae.config import config_to_dict, write_toml

    config = resolve_config(None, overrides=["data.name=shapes", "data.n=300", "data.color=true"])
    assert config.data.source_spec() == {"name": "shapes", "n": 300, "color": True}
    write_toml(config_to_dict(config), tmp_path / "c.toml")
    assert "n = 300" in (tmp_path / "c.toml").read_text()
    assert resolve_config(tmp_path / "c.toml").data == config.data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.name=shapes", "data.nn=3"], "unknown key in [data]: 'nn' (did you mean 'n'?)"),
        (["data.name=digits", "data.n=3"], "unknown key in [data]: 'n'; valid keys: name, root"),
        (["data.name=shapes", "data.root=x"], "data source 'shapes' has no option 'root'"),
    ],
    ids=["misspelt-source-option", "option-of-another-source", "schema-option-of-another-source"],
)
def test_an_option_the_source_does_not_take_is_refused(overrides, message):
    import re

    from pyro_vae.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_config(None, overrides=overrides)
