#!/usr/bin/env bash
# GoRL (paper preset, flow decoder) against tanh-Gaussian PPO on playground/HopperStand, on one
# GPU, with experiments/gorl_vs_ppo.py, cut to a schedule that fits a short device lease.
#
#   bash benchmarks/device_gorl_hopper.sh                  # on the device machine ($OUT set)
#   DRY=1 bash benchmarks/device_gorl_hopper.sh            # here, on CPU: no install, tiny budget
#
# The device machine lacks brax, mujoco, mujoco-mjx, playground, tyro and their import-time
# needs; they travel as Python 3.12 wheels in .whl/ (git-ignored: name it in the run's carry).
# warp-lang is not carried: without it playground prints "Failed to import warp" and
# jaxrl.envs.playground picks impl="jax" (MJX) on the GPU.
#
# Everything kept is copied into $OUT (at most 8 files, no folders): log.txt (this whole log),
# summary.json (evaluations per method and stage, timeline; written even after a timeout),
# gorl_metrics.jsonl (every stage's rows), ppo_metrics.jsonl, config.json, and results.json and
# curves.png when the run finished (else curves_partial.png, drawn from what was evaluated). The
# run folder itself (checkpoints, deep trees) stays in $RUN_DIR, outside $OUT. The python run is
# stopped (SIGINT, then SIGKILL 20 s later) SCRIPT_LIMIT s after this script started; what it
# evaluated until then is printed as it happens ([watch ...] lines) and kept.
set -o pipefail

# --- what to run: edit these ------------------------------------------------------------------
STAGE_ITERS=${STAGE_ITERS:-"2 2 1 1"}  # GoRL encoder iterations per stage (paper: 61 61 30 30);
                                        # PPO trains their sum. 1 iteration = NUM_ENVS x 480 steps
SEEDS=${SEEDS:-1}                       # GoRL trains seeds one after the other, PPO vmaps them
TOTAL_STEPS=${TOTAL_STEPS:-}            # optional cut of both runs (env steps); empty: all stages
COLLECT_STEPS=${COLLECT_STEPS:-960}     # decoder data per env at each stage end (paper: 9600)
DECODER_EPOCHS=${DECODER_EPOCHS:-}      # empty: the preset's 50
NUM_EVAL_EPISODES=${NUM_EVAL_EPISODES:-}  # empty: the official 128
NUM_ENVS=${NUM_ENVS:-}                  # empty: the preset's 2048
GORL_ENV=${GORL_ENV:-playground/HopperStand}
SCRIPT_LIMIT=${SCRIPT_LIMIT:-450}       # seconds from this script's start to the python run's
                                        # timeout (the copy-out after it takes a few seconds)
RUN_DIR=${RUN_DIR:-/tmp/gorl_run}       # deep run folder, never under $OUT
# ----------------------------------------------------------------------------------------------

DRY=${DRY:-0}
if [ "$DRY" = 1 ]; then  # CPU smoke test of the same command line: tiny iterations and budget
    GORL_ENV=${DRY_ENV:-playground/CartpoleSwingup}
    STAGE_ITERS=${DRY_STAGE_ITERS:-"2 2 1 1"}
    NUM_ENVS=${NUM_ENVS:-16}
    COLLECT_STEPS=16
    DECODER_EPOCHS=${DECODER_EPOCHS:-2}
    NUM_EVAL_EPISODES=${NUM_EVAL_EPISODES:-4}
    SCRIPT_LIMIT=${DRY_LIMIT:-300}
    OUT=${OUT:-/tmp/gorl_dry_out}
    RUN_DIR=/tmp/gorl_dry_run
    rm -rf /tmp/gorl_jax_cache  # compile as a fresh device machine would
fi
: "${OUT:?OUT must name the output folder}"
T0=$(date +%s)
REPO=$(pwd)
mkdir -p "$OUT" "$RUN_DIR"
rm -rf "${RUN_DIR:?}"/gorl_vs_ppo-* "$RUN_DIR/timeline.txt"
PY=python3
JAX_LOG_NOISE='Finished tracing|with global shapes and types|Finished jaxpr to MLIR'
JAX_LOG_NOISE+='|Finished XLA compilation of .* in 0\.[0-9]+ sec|persistent cache entry'
JAX_LOG_NOISE+='|to persistent compilation cache|PERSISTENT COMPILATION CACHE'
[ "$DRY" = 1 ] && PY=${DRY_PYTHON:-python3}

main() {
    echo "== $(date -u +%FT%TZ) device_gorl_hopper.sh DRY=$DRY host=$(hostname)"
    if [ "$DRY" != 1 ]; then
        $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl || { echo "pip install failed"; return 3; }
        export PYTHONPATH=/tmp/site
        # orbax-checkpoint travels too but is installed only if the machine's own is not in
        # jaxrl's tested range (pyproject: >=0.11,<0.13)
        if ! $PY - <<'EOF'
import importlib.metadata as m
v = tuple(int(x) for x in m.version("orbax-checkpoint").split(".")[:2])
print("machine's orbax-checkpoint", m.version("orbax-checkpoint"))
raise SystemExit(0 if (0, 11) <= v < (0, 13) else 1)
EOF
        then
            echo "installing the carried orbax-checkpoint"
            $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
                --target /tmp/site .whl/optional/orbax_checkpoint-*.whl || return 3
        fi
        nvidia-smi -L
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    fi
    export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$REPO"
    export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
    export JAX_COMPILATION_CACHE_DIR=/tmp/gorl_jax_cache  # identical stage programs compile once
    echo "install done at +$(( $(date +%s) - T0 )) s"
    $PY - <<'EOF' || return 4
import importlib.metadata as m, sys, jax
print("python", sys.version.split()[0], "| jax", jax.__version__, "| backend",
      jax.default_backend(), "|", jax.devices())
for d in ("jaxlib", "flax", "optax", "chex", "orbax-checkpoint", "numpy", "brax", "mujoco",
          "mujoco-mjx", "playground", "tyro", "typing_extensions"):
    try:
        print(f"  {d} {m.version(d)}")
    except m.PackageNotFoundError:
        print(f"  {d} MISSING")
EOF

    local steps="" per_iter=$(( ${NUM_ENVS:-2048} * 480 ))
    for i in $STAGE_ITERS; do steps="$steps $(( i * per_iter ))"; done
    local args=(--env "$GORL_ENV" --preset paper --decoder flow --seeds "$SEEDS"
        --stage-steps $steps --run-dir "$RUN_DIR" --no-progress
        --config.collect-steps "$COLLECT_STEPS")
    [ -n "$TOTAL_STEPS" ] && args+=(--total-steps "$TOTAL_STEPS")
    [ -n "$DECODER_EPOCHS" ] && args+=(--config.decoder-epochs "$DECODER_EPOCHS")
    [ -n "$NUM_EVAL_EPISODES" ] && args+=(--num-eval-episodes "$NUM_EVAL_EPISODES")
    [ -n "$NUM_ENVS" ] && args+=(--config.num-envs "$NUM_ENVS")
    local left=$(( SCRIPT_LIMIT - ($(date +%s) - T0) ))
    echo "stage iterations: $STAGE_ITERS (x $per_iter env steps); python timeout ${left} s"
    echo "+ $PY experiments/gorl_vs_ppo.py ${args[*]}"

    # the watcher prints every new metrics row (evaluations included) and new run sub-folders as
    # they appear, with seconds since the script started; its timeline goes into summary.json
    $PY - "$RUN_DIR" "$T0" <<'EOF' &
import glob, json, os, sys, time
run_dir, t0 = sys.argv[1], float(sys.argv[2])
seen_lines, seen_dirs = {}, set()
keys = ("eval_return", "eval_return_std", "episode_return", "loss", "entropy", "approx_kl")
timeline = open(os.path.join(run_dir, "timeline.txt"), "a")
def say(text):
    line = f"[watch +{time.time() - t0:6.1f}s] {text}"
    print(line, flush=True)
    timeline.write(line + "\n"); timeline.flush()
while True:
    for d in sorted(glob.glob(os.path.join(run_dir, "gorl_vs_ppo-*", "**/"), recursive=True)):
        rel = os.path.relpath(d, run_dir)
        parts = rel.split(os.sep)
        if d in seen_dirs or "checkpoints" in parts[:-1] or not parts[-1].strip("0123456789"):
            continue
        if parts[-1] in ("record", "state") or len(parts) > 5:
            continue
        seen_dirs.add(d)
        say(f"dir {rel}")
    for f in sorted(glob.glob(os.path.join(run_dir, "gorl_vs_ppo-*", "**", "metrics.jsonl"),
                              recursive=True)):
        if f.endswith(os.path.join("gorl", "metrics.jsonl")):  # the seeds' stages joined, at the end
            continue
        try:
            lines = open(f).read().splitlines()
        except OSError:
            continue
        for line in lines[seen_lines.get(f, 0):]:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            shown = {k: row[k] for k in keys if k in row}
            say(f"{os.path.relpath(f, run_dir)} step={row.get('step')} {shown}")
        seen_lines[f] = len(lines)
    time.sleep(1)
EOF
    local watcher=$!
    # JAX_LOG_COMPILES: keep jax's "Finished XLA compilation of <program> in <s> sec" lines of
    # 1 s or more and its persistent-cache hits (what each program costs to compile there)
    JAX_LOG_COMPILES=1 timeout -s INT -k 20 "$left" $PY experiments/gorl_vs_ppo.py "${args[@]}" \
        2>&1 | grep --line-buffered -v -E "$JAX_LOG_NOISE"
    local rc=${PIPESTATUS[0]}
    sleep 2  # one more pass of the watcher
    kill "$watcher" 2>/dev/null
    wait "$watcher" 2>/dev/null
    echo "== gorl_vs_ppo.py exit status $rc (124: timed out) at +$(( $(date +%s) - T0 )) s"
    collect
    return $rc
}

collect() {
    local run
    run=$(ls -d "$RUN_DIR"/gorl_vs_ppo-* 2>/dev/null | tail -1)
    [ -n "$run" ] || { echo "no run folder in $RUN_DIR"; return; }
    echo "== run folder $run"
    (cd "$run" && find . -type f ! -path '*/checkpoints/*' ! -path '*/state/*' \
        ! -path '*/record/*' ! -name '_CHECKPOINT_METADATA' ! -name commit_success.txt | sort)
    for f in results.json curves.png config.json; do
        [ -f "$run/$f" ] && cp "$run/$f" "$OUT/$f"
    done
    [ -f "$run/ppo/metrics.jsonl" ] && cp "$run/ppo/metrics.jsonl" "$OUT/ppo_metrics.jsonl"
    $PY - "$run" "$OUT" "$RUN_DIR/timeline.txt" <<'EOF'
import glob, json, math, os, re, sys
run, out, timeline = sys.argv[1:4]
def rows(path):
    try:
        return [json.loads(x) for x in open(path).read().splitlines() if x.strip()]
    except (OSError, ValueError):
        return []
def evals(rs):
    pts = []
    for r in rs:
        v = r.get("eval_return")
        if v is None:
            continue
        v = v if isinstance(v, list) else [v]
        v = [x for x in v if isinstance(x, (int, float)) and math.isfinite(x)]
        if v:
            pts.append([r["step"], sum(v) / len(v)])
    return pts
summary = {"run": run, "gorl": {}, "ppo": {}}
# GoRL: every stage's own metrics (the joined gorl/metrics.jsonl only exists after all seeds)
joined = []
for f in sorted(glob.glob(os.path.join(run, "gorl", "seed_*", "stage_*", "metrics.jsonl"))):
    seed, stage = re.findall(r"seed_(\d+)", f)[-1], re.findall(r"stage_(\d+)", f)[-1]
    rs = rows(f)
    for r in rs:
        joined.append({"seed": int(seed), "stage": int(stage), **r})
    pts = evals(rs)
    summary["gorl"][f"seed_{seed}/stage_{stage}"] = {
        "rows": len(rs), "last_step": rs[-1]["step"] if rs else None, "evals": pts,
        "best_eval": max((p[1] for p in pts), default=None)}
    for extra in glob.glob(os.path.join(os.path.dirname(f), "*.json")):
        try:
            summary["gorl"][f"seed_{seed}/stage_{stage}"][os.path.basename(extra)] = json.load(
                open(extra))
        except (OSError, ValueError):
            pass
with open(os.path.join(out, "gorl_metrics.jsonl"), "w") as fh:
    for r in joined:
        fh.write(json.dumps(r) + "\n")
prs = rows(os.path.join(run, "ppo", "metrics.jsonl"))
pts = evals(prs)
summary["ppo"] = {"rows": len(prs), "last_step": prs[-1]["step"] if prs else None,
                  "evals": pts, "best_eval": max((p[1] for p in pts), default=None),
                  "final_eval": pts[-1][1] if pts else None}
res = os.path.join(run, "results.json")
if os.path.exists(res):
    summary["results"] = json.load(open(res)).get("rows")
try:
    summary["timeline"] = open(timeline).read().splitlines()
except OSError:
    pass
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1, default=str)
if not os.path.exists(os.path.join(out, "curves.png")):  # a cut run: plot what was evaluated
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        curves = {}  # seed -> GoRL evaluations at cumulative encoder steps
        for k in sorted(summary["gorl"], key=lambda k: (k.split("/")[0], int(k.split("_")[-1]))):
            seed, v = k.split("/")[0], summary["gorl"][k]
            offset, xs, ys = curves.setdefault(seed, [0, [], []])
            xs += [offset + p[0] for p in v["evals"]]
            ys += [p[1] for p in v["evals"]]
            curves[seed][0] = offset + (v["last_step"] or 0)
        for seed, (_, xs, ys) in curves.items():
            ax.plot(xs, ys, "o-", label=f"GoRL (flow), {seed}")
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "s-", label="Gaussian PPO (seed mean)")
        ax.set_xlabel("env steps"); ax.set_ylabel("eval return"); ax.legend()
        ax.set_title("cut run: evaluations so far")
        fig.savefig(os.path.join(out, "curves_partial.png"), dpi=100, bbox_inches="tight")
    except Exception as e:  # noqa: BLE001 - the plot is a convenience
        print("no partial plot:", e)
print("GoRL evaluations (step, mean eval return):")
for k, v in summary["gorl"].items():
    print(f"  {k}: {v['evals']}")
print(f"PPO evaluations: {summary['ppo']['evals']}")
EOF
    ls -la "$OUT"
}

main 2>&1 | tee "$OUT/log.txt"
