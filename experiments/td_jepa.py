"""Zero-shot TD-JEPA next to a random policy and a supervised reference, per task of a domain.

    python experiments/make_dataset.py exorl --domain reach/fourrooms --agent rnd --steps 40000 \
        --out datasets/reach.npz
    python experiments/td_jepa.py --dataset datasets/reach.npz --seeds 4 --total-steps 3000
    python experiments/td_jepa.py --dataset datasets/reach.npz --config.symmetric \
        --no-td3-reference                            # TD-JEPA-sym, no TD3+BC
    python experiments/make_dataset.py exorl --domain dmc/walker --agent rnd --steps 1000000 \
        --out datasets/walker.npz                     # GPU: MuJoCo Playground physics
    python experiments/td_jepa.py --dataset datasets/walker.npz --preset dmc \
        --total-steps 3000000                         # the official DMC-proprio launch (GPU)
    python experiments/td_jepa.py --help              # every field of both configs, documented

One TD-JEPA member trains offline on the whole reward-free dataset (``--config.*``, starting from
``--preset``: ``cpu`` is ``presets.TD_JEPA_CPU``; ``paper`` = ``dmc``, ``dmc_pointmass``,
``dmc_sym``, ``ogbench``, ``ogbench_manipulation`` and ``ogbench_sym`` the official launch
files' settings, ``presets.TD_JEPA_PRESETS``). Then, for each seed and each saved checkpoint, it
infers one ``z`` per task by least squares of the dataset's stored task rewards on ``psi(s')``
(``td_jepa.infer_task_from_data`` over ``inference_samples`` rows) and runs ``pi_z`` on that
task (``jaxrl.zero_shot.evaluate_zero_shot``): TD-JEPA never sees a reward while it trains.
Next to it, per task: a random policy with the same evaluation keys, and (unless
``--no-td3-reference``) TD3+BC trained on the task's true reward (``--td3-steps``,
``--td3-alpha``, default 100: nearly plain TD3; ``--td3.*``), same data and seeds.

This is ``experiments/zero_shot.py --agents td_jepa`` with TD-JEPA's config as ``--config.*``: its
docstring tells the evaluation domain (``--eval-env``), the checkpoints behind the curve, the
IQM over tasks and seeds with its bootstrap interval, and every file of the run folder
``runs/td_jepa-<dataset>-<time>/`` (``td_jepa/``, ``td3_bc-<task>/``, ``curves.png``,
``results.json`` with ``rows``, ``differences`` and ``zero_shot``: the printed table, ``iqm``,
``td_jepa_steps`` and ``td_jepa_curve``). ``--resume <run folder>`` continues a stopped run
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
from jaxrl.agents import presets, td_jepa  # noqa: E402

Preset = Literal[
    "cpu",
    "paper",
    "dmc",
    "dmc_pointmass",
    "dmc_sym",
    "ogbench",
    "ogbench_manipulation",
    "ogbench_sym",
]
"""The keys of ``presets.TD_JEPA_PRESETS``."""


@dataclasses.dataclass
class Args(zero_shot.CommonArgs):
    """Zero-shot TD-JEPA vs a random policy vs TD3+BC on each task's true reward."""

    preset: Preset = "cpu"
    """TD-JEPA's default config: cpu (presets.TD_JEPA_CPU), paper = dmc (the official DMC-proprio
    launch) or another official launch (presets.TD_JEPA_PRESETS)."""
    config: td_jepa.Config = dataclasses.field(default_factory=lambda: presets.TD_JEPA_CPU)
    """TD-JEPA hyperparameters (default: the --preset's)."""

    def agent_configs(self) -> dict[str, Any]:
        return {"td_jepa": self.config}


def preset(preset: str = "cpu") -> td_jepa.Config:
    """The default config of ``--preset`` (``presets.TD_JEPA_PRESETS``)."""
    return presets.TD_JEPA_PRESETS[preset]


def main(argv: list[str] | None = None) -> runs.Report:
    return zero_shot.run(runs.parse(Args, argv, __doc__, preset=preset))


if __name__ == "__main__":
    runs.cli(main)
