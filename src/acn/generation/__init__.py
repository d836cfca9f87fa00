"""Text generation for the ``gpt`` family: KV-cache decoding, lossless self-speculative
decoding, per-token early exit, and their cost (tokens/s, acceptance, exit depth).

``model.generate(input_ids, ...)`` (Hugging Face's names) is :func:`generate`, bound to
:class:`acn.models.gpt.GPTModel` when this package is imported.
"""

from ..models.gpt import GPTModel
from .early_exit import decode_early_exit, exit_cost
from .generate import NUM_ASSISTANT_TOKENS, generate, generate_result
from .result import GenerationResult
from .sampling import Sampling, next_token_probs

GPTModel.generate_fn = generate

__all__ = [
    "NUM_ASSISTANT_TOKENS",
    "GenerationResult",
    "Sampling",
    "decode_early_exit",
    "exit_cost",
    "generate",
    "generate_result",
    "next_token_probs",
]
