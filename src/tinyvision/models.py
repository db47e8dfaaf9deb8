"""Small image classifiers, registered by name and built from the input shape.

Every model maps a float batch (N, C, H, W) to logits (N, classes); softmax and
the loss live outside. No model hard-codes a resolution: sizes derive from the
`input_shape` the dataset declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from tinyvision.callable_module import make_callable
from tinyvision.errors import TinyVisionError

InputShape = tuple[int, int, int]  # (channels, height, width)
MODELS: dict[str, Callable[..., nn.Module]] = {}
DESCRIPTIONS: dict[str, str] = {}


def register(name: str, description: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    def add(cls: type[nn.Module]) -> type[nn.Module]:
        MODELS[name] = cls
        DESCRIPTIONS[name] = description
        return cls

    return add


def create_model(name: str, input_shape: InputShape, num_classes: int) -> nn.Module:
    if name not in MODELS:
        raise TinyVisionError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    check_input_size(name, tuple(input_shape), num_classes)
    return MODELS[name](input_shape=tuple(input_shape), num_classes=num_classes)


# A throwaway model for its shapes is built and run on the CPU when its inputs are this small and its classes
# this few: every registered model is then under 14 M weights, built and run in milliseconds. Larger ones go
# to the meta device (shapes, no memory), whose first forward makes torch import its compiler for its
# convolution and BatchNorm meta kernels, about 1.5 s: every checkpoint load paid that.
SMALL_INPUT = 3 * 64 * 64
SMALL_CLASSES = 1000


@contextmanager
def shapes_only(input_shape: InputShape, num_classes: int) -> Iterator[None]:
    """The device to build a model on only for its shapes, without drawing from torch's global random
    generator (a training run's weights must not depend on whether its shapes were checked)."""
    c, h, w = input_shape
    if c * h * w > SMALL_INPUT or num_classes > SMALL_CLASSES:
        with torch.device("meta"):
            yield
        return
    with torch.random.fork_rng(devices=[]), torch.device("cpu"), torch.no_grad():
        yield


def fits(name: str, input_shape: InputShape, num_classes: int) -> bool:
    """Whether the model can take images of `input_shape`: one forward pass of a throwaway model."""
    try:
        with shapes_only(input_shape, num_classes):
            MODELS[name](input_shape=input_shape, num_classes=num_classes).eval()(torch.zeros(1, *input_shape))
    except RuntimeError:  # a pooling that shrinks the image to nothing
        return False
    return True


def check_input_size(name: str, input_shape: InputShape, num_classes: int) -> None:
    """Refuse, before any weight exists or a run folder is written, images too small for the model's
    poolings (a 4x4 folder for tvnet), naming the smallest square size it takes."""
    if fits(name, input_shape, num_classes):
        return
    c, h, w = input_shape
    side = next((s for s in range(max(h, w) + 1, 65) if fits(name, (c, s, s), num_classes)), None)
    least = f"images of at least {side}x{side}" if side else "larger images, or squarer ones"
    raise TinyVisionError(f"{name} needs {least}, got {h}x{w} (use a larger --image-size or another --model)")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@register("mlp", "the 'regular' fully connected baseline on flattened pixels")
class MLP(nn.Module):
    def __init__(
        self,
        input_shape: InputShape,
        num_classes: int,
        hidden: tuple[int, ...] = (1024, 512),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = input_shape[0] * input_shape[1] * input_shape[2]
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register("tutorial-a", "reference CNN A: 2x(conv3x3+BN+ReLU+pool), FC 128, dropout 0.5")
class TutorialA(nn.Module):
    def __init__(self, input_shape: InputShape, num_classes: int) -> None:
        super().__init__()
        c, h, w = input_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * (h // 4) * (w // 4), 128),  # 7*7*64 for 28x28 input
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


@register("tutorial-b", "reference CNN B: 2x(conv3x3 valid+ReLU+pool), FC 128")
class TutorialB(nn.Module):
    def __init__(self, input_shape: InputShape, num_classes: int) -> None:
        super().__init__()
        c, h, w = input_shape
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        fh, fw = ((h - 2) // 2 - 2) // 2, ((w - 2) // 2 - 2) // 2  # 5x5 for 28x28 input
        if fh < 1 or fw < 1:
            raise TinyVisionError(f"tutorial-b needs images of at least 10x10, got {h}x{w}")
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * fh * fw, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def conv_pool_bn(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
    """conv3x3 -> [maxpool] -> BN -> ReLU.

    Pooling before BatchNorm and ReLU is the same function as pooling after
    wherever a channel's BN scale is positive (max-pool commutes with increasing
    per-channel maps at inference), and training adapts to the rest;
    but BN and ReLU then touch a quarter of the pixels. (Measured faster when chosen; this
    release's rerun of benchmarks/cpu_choices.py timed the usual order faster: docs/performance.md.)
    """
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers + [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class TVNet(nn.Module):
    """tinyvision's CNN family: a plain VGG-style stack of 3x3 convolutions.

    `stages` lists (width, pool) per convolution. The head flattens the last
    feature map into one linear layer: at 3x3 resolution that keeps where a
    stroke is, which a global pool would throw away (+0.1-0.2% on MNIST for
    a few hundred extra weights). Its width derives from the input shape.
    """

    def __init__(
        self,
        input_shape: InputShape,
        num_classes: int,
        stages: tuple[tuple[int, bool], ...] = ((16, True), (32, True), (32, False), (64, True)),
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = input_shape[0]
        for width, pool in stages:
            layers += conv_pool_bn(c, width, pool)
            c = width
        self.features = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.features(torch.zeros(2, *input_shape)).flatten(1).shape[1]
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# Chosen by accuracy per second of CPU training on MNIST: wider 14x14 and 7x7 convolutions
# cost more than they add on MNIST's digits (benchmarks/cpu_choices.py times the alternatives;
# docs/performance.md). The `plain` and `fast` presets train it; the default digit recipe uses
# the wider tvnet-digits, which has room for other people's handwriting.
register("tvnet", "the small CNN of the plain and fast presets (4 convs), built for accuracy per CPU "
                  "second")(TVNet)


@register("tvnet-digits", "the MNIST default: tvnet with 64- and 128-wide late convs, room for handwriting "
                         "beyond MNIST's writers")
class TVNetDigits(TVNet):
    """Chosen on validation (benchmarks/results/digit_recipes.json): trained with the handwriting
    augmentation, non-digits and font digits, tvnet's 38k weights reached 99.32% mean validation
    accuracy on MNIST, these widths 99.60% and the best score on the handwriting-style validation
    sets, for 2.3x tvnet's time per step."""

    def __init__(self, input_shape: InputShape, num_classes: int) -> None:
        super().__init__(input_shape, num_classes, stages=((16, True), (32, True), (64, False), (128, True)))


@register("tvnet-clothes", "the Fashion-MNIST default: tvnet 32-64-64-64-128 (five convs), for textures and shapes")
class TVNetClothes(TVNet):
    """Chosen on validation (benchmarks/results/recipes/fashion-mnist-trials.json): 93.90% after 12
    epochs, against tvnet's 93.18% and 32-64-64-128's 93.88% (both at 12 epochs)."""

    def __init__(self, input_shape: InputShape, num_classes: int) -> None:
        super().__init__(input_shape, num_classes,
                         stages=((32, True), (64, True), (64, False), (64, False), (128, True)))


@register("tvnet-wide", "a wider, deeper tvnet, for the `best` preset")
class TVNetWide(TVNet):
    def __init__(self, input_shape: InputShape, num_classes: int) -> None:
        super().__init__(input_shape, num_classes, stages=((32, True), (64, True), (128, False), (128, True)))


class Residual(nn.Module):
    """x + conv-BN-ReLU(x): the skip lets the block start as the identity, so it adds depth safely."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_pool_bn(width, width, False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register("tvresnet", "tinyvision's colour CNN for 32x32 photos: 3 pooled stages + residual convs, BN")
class TVResNet(nn.Module):
    """A narrow ResNet/VGG hybrid for CIFAR-like photos on a CPU budget.

    After the fast CIFAR-10 trainers (DAWNBench ResNet-9, airbench): a stem
    convolution, then per stage conv3x3 -> maxpool -> BN -> ReLU and a
    residual conv at the pooled resolution, so the wider convolutions run on
    a quarter of the pixels. A global max pool makes the head independent of
    the input size; the logits are scaled by 1/8 because max-pooled features
    are large, and a small output scale trains stably at a high learning rate.
    (Test-time flips are not done here but by the inference path, from the
    model card, like every other model's test-time augmentation.)
    """

    def __init__(
        self,
        input_shape: InputShape,
        num_classes: int,
        widths: tuple[int, ...] = (32, 64, 128),
        stem: int = 16,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = conv_pool_bn(input_shape[0], stem, False)
        c = stem
        for width in widths:
            layers += [*conv_pool_bn(c, width, True), Residual(width)]
            c = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)) * 0.125


@register("tvresnet-wide", "the photos default: tvresnet with a 256-wide last stage (CIFAR-10, your folders)")
class TVResNetWide(TVResNet):
    """Chosen on validation (benchmarks/results/recipes/cifar10-jpeg-trials.json): 84.72% on the
    CIFAR-10 JPEG copy after 6 epochs, against tvresnet's 83.52%, for about 1.7x its time."""

    def __init__(self, input_shape: InputShape, num_classes: int) -> None:
        super().__init__(input_shape, num_classes, widths=(32, 64, 256), stem=16)


def descriptions() -> dict[str, str]:
    """Every registered model name and what the model is: `tinyvision.models()`."""
    return dict(DESCRIPTIONS)


make_callable(__name__, descriptions)  # `tinyvision.models()`, whether or not this module was imported first
