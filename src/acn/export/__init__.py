"""Deployable files of a (cut) model: ONNX through the dynamo exporter and ``torch.export``
programs, each reloaded and checked against eager PyTorch before it is kept."""

from .exporter import FORMATS, ExportResult, export_model
from .parity import Parity, compare

__all__ = ["FORMATS", "ExportResult", "Parity", "compare", "export_model"]
