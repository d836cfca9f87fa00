"""Early exit: exit heads, exit losses, exit policies, calibration, the real early-exit path and
its cost (the paper's App. H / Table 7).

Typical use::

    exits = plan_exits(model, "shared")                      # or "branches", "final"
    logits = exit_logits(model, x, exits)                    # [E, B, C] from one pass
    policy = ExitPolicy("entropy", tau=0.7)
    result = early_exit_predict(model, x, policy, exits)     # exited rows are not computed further
    report = evaluate_exits(model, val, test, ExitEvalConfig(heads="shared", target_drop=0.5))

``acn exit RUN`` is the command-line front; Table 7 is :mod:`acn.experiments.early_exit`.

The training loss ``exits`` lives in :mod:`acn.train.exit_loss` (the trainer needs it) and the exit
heads in :mod:`acn.models.exit_heads` (they are part of the model); both are re-exported here.
"""

from ..models.exit_heads import HEADS, Exit, exit_logits, logits_from_features, plan_exits
from ..train.exit_loss import ExitLossConfig, default_weights, exits_loss, weighted_exit_loss
from .calibration import CachedExits, Calibration, ExitOutcome, calibrate, outcome, sweep, tau_grid
from .cost import ExitCosts, ExitPricer, exit_costs, residual_twin
from .evaluate import (
    ExitEvalConfig,
    ExitReport,
    Split,
    WallClock,
    evaluate_exits,
    measure_wall_clock,
)
from .inference import ExitPrediction, early_exit_predict
from .policies import DEFAULT_TAU, POLICIES, ExitPolicy, entropy, simulate_exits
from .report import format_table, write_reports
from .splits import load_exit_splits, split_validation

__all__ = [
    "DEFAULT_TAU",
    "HEADS",
    "POLICIES",
    "CachedExits",
    "Calibration",
    "Exit",
    "ExitCosts",
    "ExitEvalConfig",
    "ExitLossConfig",
    "ExitOutcome",
    "ExitPolicy",
    "ExitPrediction",
    "ExitPricer",
    "ExitReport",
    "Split",
    "WallClock",
    "calibrate",
    "default_weights",
    "early_exit_predict",
    "entropy",
    "evaluate_exits",
    "exit_costs",
    "exit_logits",
    "exits_loss",
    "format_table",
    "load_exit_splits",
    "logits_from_features",
    "measure_wall_clock",
    "outcome",
    "plan_exits",
    "residual_twin",
    "simulate_exits",
    "split_validation",
    "sweep",
    "tau_grid",
    "weighted_exit_loss",
    "write_reports",
]
