"""Zero-shot BREEZE next to a random policy and a supervised reference, per task of a domain.

    python experiments/make_dataset.py exorl --domain reach/fourrooms --agent rnd --steps 40000 \
        --out datasets/reach.npz
    python experiments/breeze.py --dataset datasets/reach.npz --seeds 2 --total-steps 3000
    python experiments/breeze.py --dataset datasets/reach.npz --tasks reach_bottom_right \
        --config.eval-samples 32 --no-td3-reference   # K_eval 32, no TD3+BC
    python experiments/make_dataset.py exorl --domain dmc/walker --agent rnd --steps 1000000 \
        --out datasets/walker.npz                     # GPU: MuJoCo Playground physics
    python experiments/breeze.py --dataset datasets/walker.npz --preset walker \
        --total-steps 1000000                         # the paper's walker row (GPU)
    python experiments/breeze.py --help               # every field of both configs, documented

One BREEZE member trains offline on the whole reward-free dataset (``--config.*``, starting from
``--preset``: ``cpu`` is ``presets.BREEZE_CPU``, ``paper`` ``breeze.Config()``, the spec's;
``walker``, ``quadruped`` and ``jaco`` the paper's per-domain rows, ``presets.BREEZE_PRESETS``).
Then, for each seed and each saved checkpoint, it infers one ``z`` per task from the dataset's
stored task rewards (``breeze.infer_task_from_data`` over ``inference_samples`` rows) and runs
``pi_z`` (best of ``eval_samples`` diffusion samples under ``Q_z``) on that task
(``jaxrl.zero_shot.evaluate_zero_shot``): BREEZE never sees a reward while it trains. Next to
it, per task: a random policy with the same evaluation keys, and (unless
``--no-td3-reference``) TD3+BC trained on the task's true reward (``--td3-steps``,
``--td3-alpha``, default 100: nearly plain TD3; ``--td3.*``), same data and seeds.

This is ``experiments/zero_shot.py --agents breeze`` with BREEZE's config as ``--config.*``: its
docstring tells the evaluation domain (``--eval-env``), the checkpoints behind the curve, the
IQM over tasks and seeds with its bootstrap interval, and every file of the run folder
``runs/breeze-<dataset>-<time>/`` (``breeze/``, ``td3_bc-<task>/``, ``curves.png``,
``results.json`` with ``rows``, ``differences`` and ``zero_shot``: the printed table, ``iqm``,
``breeze_steps`` and ``breeze_curve``). ``--resume <run folder>`` continues a stopped run
(``--total-steps`` may grow; ``--td3-steps`` follows it unless it was set).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, Literal

if __package__ in (None, ""):  # run as a file: make the experiments package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import zero_shot  # noqa: E402
from jaxrl import runs  # noqa: E402
from jaxrl.agents import breeze, presets  # noqa: E402

Preset = Literal["cpu", "paper", "walker", "quadruped", "jaco"]
"""The keys of ``presets.BREEZE_PRESETS``."""


@dataclasses.dataclass
class Args(zero_shot.CommonArgs):
    """Zero-shot BREEZE vs a random policy vs TD3+BC on each task's true reward."""

    preset: Preset = "cpu"
    """BREEZE's default config: cpu (presets.BREEZE_CPU), paper (breeze.Config(), the spec's)
    or the paper's row for walker, quadruped or jaco."""
    config: breeze.Config = dataclasses.field(default_factory=lambda: presets.BREEZE_CPU)
    """BREEZE hyperparameters (default: the --preset's)."""

    def agent_configs(self) -> dict[str, Any]:
        return {"breeze": self.config}


def preset(preset: str = "cpu") -> breeze.Config:
    """The default config of ``--preset`` (``presets.BREEZE_PRESETS``)."""
    return presets.BREEZE_PRESETS[preset]


def main(argv: list[str] | None = None) -> runs.Report:
    return zero_shot.run(runs.parse(Args, argv, __doc__, preset=preset))


if __name__ == "__main__":
    runs.cli(main)
