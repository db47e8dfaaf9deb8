"""Training: run setup (`setup`), the loop (`loop`), saving and reporting (`callbacks`), a whole run (`fit`)."""

from tinyvision.training.callbacks import Callback, Reporter, Saver
from tinyvision.training.fit import FitResult, fit
from tinyvision.training.loop import Interrupted, Position, learning_rate, train_step
from tinyvision.training.setup import Setup, build_setup

__all__ = [
    "Callback", "FitResult", "Interrupted", "Position", "Reporter", "Saver", "Setup", "build_setup", "fit",
    "learning_rate", "train_step",
]
