"""Times the official PyTorch FB code's gradient step (driver for jaxrl's benchmarks/fb_speed.py).

The copy in jaxrl's benchmarks/results/fb_speed_cpu/ is the record of what produced those
results; it runs outside the jaxrl repository, in its own venv (torch; the official checkouts
imported unchanged from --repo), never with jaxrl on the path:

  controllable_agent (facebookresearch/controllable_agent, url_benchmark/agent/fb_ddpg.py):
      FBDDPGAgent.update(replay_loader, step) on its in-memory ReplayBuffer, filled through
      ReplayBuffer.add() with synthetic episodes (ExtendedTimeStep), as train_offline.py's loop
      calls it (update_every_steps = 1). Logging off (use_tb/use_wandb/use_hiplog False).
  metamotivo (facebookresearch/metamotivo, metamotivo/fb/agent.py):
      FBAgent.update({"train": DictBuffer}, step), the loop of examples/fb_train_dmc.py, with
      that example's DMC settings except z_dim (ours) and the sizes given here.

Protocol (the same as benchmarks/dqc_official.py's): every line for the parent starts with
"FBBENCH " and JSON. After setup and warm-up it prints {"ready": ...}; then for each stdin line N
it runs N updates and prints {"steps": N, "seconds": ...}. An empty line or "quit" ends it.
Torch runs eagerly and synchronously on the CPU, so the wall time of N calls is the time of N
updates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

PREFIX = "FBBENCH "


def say(obj: dict) -> None:
    print(PREFIX + json.dumps(obj), flush=True)


def synthetic(rows: int, obs_dim: int, action_dim: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    obs = rng.standard_normal((rows + 1, obs_dim), dtype=np.float32)
    act = rng.uniform(-1, 1, (rows + 1, action_dim)).astype(np.float32)
    return obs, act


def make_controllable_agent(args):
    import numpy as np
    from dm_env import StepType
    from url_benchmark.agent.fb_ddpg import FBDDPGAgent
    from url_benchmark.dmc import ExtendedTimeStep
    from url_benchmark.in_memory_replay_buffer import ReplayBuffer

    agent = FBDDPGAgent(
        obs_type="states",
        obs_shape=(args.obs_dim,),
        action_shape=(args.action_dim,),
        device="cpu",
        use_tb=False,
        use_wandb=False,
        use_hiplog=False,
        num_expl_steps=0,
        update_encoder=False,
        goal_space=None,
        lr=args.lr,
        fb_target_tau=0.01,
        update_every_steps=1,  # train_offline.py sets 1
        hidden_dim=args.hidden,
        backward_hidden_dim=args.backward_hidden,
        feature_dim=args.feature,
        z_dim=args.z_dim,
        batch_size=args.batch,
        mix_ratio=0.5,
        ortho_coef=1.0,
        stddev_schedule="0.2",
        stddev_clip=0.3,
        preprocess=True,
        add_trunk=False,
        norm_z=True,
        q_loss=False,
    )
    episodes = args.rows // args.episode_length
    buffer = ReplayBuffer(max_episodes=episodes, discount=args.discount, future=args.future)
    obs, act = synthetic(episodes * (args.episode_length + 1), args.obs_dim, args.action_dim, 0)
    t = 0
    for _ in range(episodes):
        for i in range(args.episode_length + 1):
            kind = (
                StepType.FIRST
                if i == 0
                else (StepType.LAST if i == args.episode_length else StepType.MID)
            )
            step = ExtendedTimeStep(
                step_type=kind,
                reward=0.0,
                discount=1.0,
                observation=obs[t],
                action=act[t] if i else np.zeros_like(act[t]),
            )
            buffer.add(step, meta={})
            t += 1
    rows = int(buffer._episodes_length[: len(buffer)].sum())

    state = {"step": 0}

    def update():
        agent.update(buffer, state["step"])
        state["step"] += 1

    modules = {"forward": agent.forward_net, "backward": agent.backward_net, "actor": agent.actor}
    return update, modules, rows


def make_metamotivo(args):
    import dataclasses

    import numpy as np
    from metamotivo.buffers.buffers import DictBuffer
    from metamotivo.fb import FBAgent, FBAgentConfig

    cfg = FBAgentConfig()
    # examples/fb_train_dmc.py's create_agent (walker), z_dim and sizes from the arguments
    cfg.model.obs_dim = args.obs_dim
    cfg.model.action_dim = args.action_dim
    cfg.model.device = "cpu"
    cfg.model.norm_obs = False
    cfg.model.seq_length = 1
    cfg.train.batch_size = args.batch
    cfg.model.archi.z_dim = args.z_dim
    cfg.model.archi.b.norm = True
    cfg.model.archi.norm_z = True
    cfg.model.archi.b.hidden_dim = args.backward_hidden
    cfg.model.archi.f.hidden_dim = args.hidden
    cfg.model.archi.actor.hidden_dim = args.hidden
    cfg.model.archi.f.hidden_layers = 1
    cfg.model.archi.actor.hidden_layers = 1
    cfg.model.archi.b.hidden_layers = 2
    cfg.train.lr_f = cfg.train.lr_b = cfg.train.lr_actor = args.lr
    cfg.train.ortho_coef = 1
    cfg.train.train_goal_ratio = 0.5
    cfg.train.fb_pessimism_penalty = 0
    cfg.train.actor_pessimism_penalty = 0.5
    cfg.train.discount = args.discount
    cfg.compile = args.compile
    cfg.cudagraphs = False
    if 2 * args.feature != args.hidden:
        raise SystemExit(
            "metamotivo's towers end at hidden_dim // 2: need --feature = --hidden / 2"
        )
    agent = FBAgent(**dataclasses.asdict(cfg))
    obs, act = synthetic(args.rows, args.obs_dim, args.action_dim, 0)
    data = {
        "observation": obs[:-1],
        "action": act[:-1],
        "next": {"observation": obs[1:], "terminated": np.zeros((args.rows, 1), dtype=bool)},
    }
    buffer = {"train": DictBuffer(capacity=args.rows, device="cpu")}
    buffer["train"].extend(data)
    state = {"step": 0}

    def update():
        agent.update(buffer, state["step"])
        state["step"] += 1

    m = agent._model
    modules = {"forward": m._forward_map, "backward": m._backward_map, "actor": m._actor}
    return update, modules, args.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=("controllable_agent", "metamotivo"), required=True)
    parser.add_argument("--repo", required=True, help="the official checkout")
    parser.add_argument("--obs-dim", type=int, default=24)
    parser.add_argument("--action-dim", type=int, default=6)
    parser.add_argument("--z-dim", type=int, default=50)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=1024, help="tower first layer and heads")
    parser.add_argument("--feature", type=int, default=512, help="tower output width")
    parser.add_argument("--backward-hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--discount", type=float, default=0.98)
    parser.add_argument("--future", type=float, default=0.99, help="controllable_agent buffer")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--episode-length", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: default)")
    parser.add_argument("--compile", action="store_true", help="metamotivo: torch.compile")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    repo = os.path.abspath(args.repo)
    sys.path.insert(0, repo)
    import numpy as np
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    t0 = time.perf_counter()
    make = make_controllable_agent if args.impl == "controllable_agent" else make_metamotivo
    update, modules, rows = make(args)
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    update()
    first_update_s = time.perf_counter() - t0
    for _ in range(args.warmup):
        update()

    # torch's own count of one update's floating-point operations (matmuls, convolutions).
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        update()
    flops = counter.get_total_flops()

    try:
        commit = subprocess.run(
            ["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    say(
        {
            "ready": True,
            "impl": args.impl,
            "commit": commit,
            "setup_s": setup_s,
            "first_update_s": first_update_s,
            "flops_per_step": float(flops),
            "params": {k: sum(p.numel() for p in m.parameters()) for k, m in modules.items()},
            "rows": rows,
            "args": vars(args),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "python": sys.version.split()[0],
        }
    )

    for line in sys.stdin:
        line = line.strip()
        if not line or line == "quit":
            break
        n = int(line)
        t0 = time.perf_counter()
        for _ in range(n):
            update()
        say({"steps": n, "seconds": time.perf_counter() - t0})


if __name__ == "__main__":
    main()
