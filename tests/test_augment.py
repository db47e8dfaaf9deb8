import torch

from tinyvision.augment import random_hflip, random_translate


def centred_blobs(n: int) -> torch.Tensor:
    x = torch.zeros(n, 1, 12, 12, dtype=torch.uint8)
    x[:, :, 4:8, 4:8] = torch.arange(1, 17, dtype=torch.uint8).view(4, 4)
    return x


def test_translate_moves_each_image_by_its_own_small_shift():
    x = centred_blobs(64)
    out = random_translate(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    # The blob is away from the border, so no ink is lost: only moved.
    assert torch.equal(out.flatten(1).sum(1), x.flatten(1).sum(1))
    positions = {tuple((img[0] == 1).nonzero()[0].tolist()) for img in out}
    assert len(positions) > 5
    assert all(2 <= r <= 6 and 2 <= c <= 6 for r, c in positions)


def test_translate_zero_is_identity_and_seeded():
    x = centred_blobs(8)
    assert torch.equal(random_translate(x, 0, torch.Generator()), x)
    a = random_translate(x, 3, torch.Generator().manual_seed(5))
    b = random_translate(x, 3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_hflip_mirrors_about_half_the_batch():
    x = centred_blobs(200)
    out = random_hflip(x, torch.Generator().manual_seed(0))
    flipped = (out != x).flatten(1).any(1)
    assert torch.equal(out[flipped], x[flipped].flip(3))
    assert 60 < int(flipped.sum()) < 140
