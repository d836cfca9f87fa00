"""acn: Auto-Compressing Networks for PyTorch.

ACNs (Dorovatas, Paraskevopoulos, Potamianos, NeurIPS 2025) replace short residual connections with
long connections from every layer to the output: x_i = f_i(x_{i-1}), y = x_0 + sum_i x_i.
"""

from .compress.cost import cost
from .connectivity import MODES, ConnectedStack, block_residual, block_wiring, connect
from .errors import ACNError, CheckpointError, ConfigError, DataError, TrainingDivergedError
from .generation import generate
from .models import StackModel, create_model, list_models
from .serialization import from_pretrained, load, save

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "ACNError",
    "CheckpointError",
    "ConfigError",
    "ConnectedStack",
    "DataError",
    "StackModel",
    "TrainingDivergedError",
    "block_residual",
    "block_wiring",
    "connect",
    "cost",
    "create_model",
    "from_pretrained",
    "generate",
    "list_models",
    "load",
    "save",
]
