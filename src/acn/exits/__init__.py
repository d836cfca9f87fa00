"""Early exit: exit heads, exit losses, exit policies, calibration, the real early-exit path and
its cost (the paper's App. H / Table 7).

Typical use::

    exits = plan_exits(model, "shared")                      # or "branches", "final"
    logits = exit_logits(model, x, exits)                    # [E, B, C] from one pass
    policy = ExitPolicy("entropy", tau=0.7)
    result = early_exit_predict(model, x, policy, exits)     # exited rows are not computed further
    report = evaluate_exits(model, val, test, ExitEvalConfig(heads="shared", target_drop=0.5))

``acn exit RUN`` and ``acn exit table7`` (:mod:`acn.exits.table7`) are the command-line front.

Importing this package registers the training loss ``exits`` with :mod:`acn.train.losses`.
"""

from ..train.losses import register_loss
from .calibration import (
    CachedExits,
    Calibration,
    ExitOutcome,
    calibrate,
    outcome,
    sweep,
    tau_grid,
)
from .cost import ExitCosts, ExitPricer, exit_costs, residual_twin
from .evaluate import (
    ExitEvalConfig,
    ExitReport,
    Split,
    WallClock,
    evaluate_exits,
    measure_wall_clock,
)
from .heads import HEADS, Exit, exit_logits, logits_from_features, plan_exits
from .inference import ExitPrediction, early_exit_predict
from .losses import ExitLossConfig, default_weights, exits_loss, weighted_exit_loss
from .policies import DEFAULT_TAU, POLICIES, ExitPolicy, entropy, simulate_exits
from .report import format_table, write_reports
from .splits import load_exit_splits, split_validation

register_loss("exits", exits_loss)

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
