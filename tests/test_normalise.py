"""Moving and scaling generated digits to the real digits' geometry, with known answers."""

import numpy as np
import pytest
import torch

from fewshot.normalise import (
    centre_of_mass,
    longer_side,
    normalise,
    normalise_class,
    real_geometry,
)


def bar(top: int, left: int, height: int, width: int = 2, value: int = 255) -> torch.Tensor:
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[top : top + height, left : left + width] = value
    return image


def test_centre_of_mass_and_longer_side_of_known_shapes() -> None:
    images = torch.stack([bar(3, 5, 10), bar(0, 0, 1, 1), torch.zeros(28, 28, dtype=torch.uint8)])
    x = images.float() / 255
    assert centre_of_mass(x).tolist() == [[7.5, 5.5], [0.0, 0.0], [13.5, 13.5]]  # empty: middle
    assert longer_side(x).tolist() == [10.0, 1.0, 0.0]
    faint = bar(3, 5, 10, value=100).float() / 255  # below half-bright: haze, not stroke
    assert longer_side(faint[None]).tolist() == [0.0]


def test_centring_moves_the_centre_of_mass_and_keeps_the_ink() -> None:
    images = torch.stack([bar(2, 3, 12), bar(14, 20, 9, width=3)])
    out = normalise(images, torch.tensor([14.0, 14.0]))
    assert torch.allclose(centre_of_mass(out.float()), torch.tensor(14.0), atol=0.05)
    assert torch.allclose(out.float().sum((1, 2)), images.float().sum((1, 2)), rtol=0.02)
    # A whole-pixel move is exact: the same bar, only elsewhere.
    assert torch.equal(normalise(bar(2, 3, 12)[None], torch.tensor([8.5, 14.5]))[0], bar(3, 14, 12))


def test_an_image_already_in_place_is_unchanged() -> None:
    image = bar(9, 13, 10)
    centre = centre_of_mass(image[None].float())[0]
    assert torch.equal(normalise(image[None], centre, side=10.0)[0], image)


def test_scaling_gives_the_stroke_box_the_real_size() -> None:
    out = normalise(bar(4, 4, 10, width=4)[None], torch.tensor([14.0, 14.0]), side=20.0)
    assert longer_side(out.float() / 255).item() == pytest.approx(20, abs=1)
    assert torch.allclose(centre_of_mass(out.float()), torch.tensor(14.0), atol=0.1)
    tiny = normalise(bar(4, 4, 2, width=2)[None], torch.tensor([14.0, 14.0]), side=20.0)
    assert longer_side(tiny.float() / 255).item() <= 5  # at most doubled: no speck blown up


def test_real_geometry_is_per_class_and_needs_every_class() -> None:
    images = torch.stack([bar(0, 0, 10) if c % 2 else bar(10, 10, 6) for c in range(20)]).numpy()
    labels = np.arange(20) % 10
    geometry = real_geometry(images, labels)
    assert geometry.centre[1].tolist() == [4.5, 0.5] and geometry.side[1] == 10
    assert geometry.centre[0].tolist() == [12.5, 10.5] and geometry.side[0] == 6
    with pytest.raises(ValueError, match="class 9"):
        real_geometry(images[labels != 9], labels[labels != 9])


def test_normalise_class_modes() -> None:
    images = torch.stack([bar(2, 3, 12), bar(5, 20, 8)])
    geometry = real_geometry(torch.stack([bar(8, 13, 12)] * 10).numpy(), np.arange(10))
    assert normalise_class(images, 4, "none", None) is images
    centred = normalise_class(images, 4, "centre", geometry)
    assert longer_side(centred.float() / 255).tolist() == [12.0, 8.0]  # moved, not scaled
    scaled = normalise_class(images, 4, "scale_centre", geometry)
    assert longer_side(scaled.float() / 255).tolist() == pytest.approx([12, 12], abs=1)
    assert torch.allclose(centre_of_mass(scaled.float()), geometry.centre[4], atol=0.1)
    with pytest.raises(ValueError, match="geometry"):
        normalise_class(images, 4, "centre", None)
