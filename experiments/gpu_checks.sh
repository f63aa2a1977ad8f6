#!/usr/bin/env bash
# The GPU checks, as one device run of under 10 minutes:
#   1. the CUDA tests (tests/test_metrics.py's CUDA case) and `gnnnas search --space default --device cuda`
#      end to end on the bundled dataset: leaderboard, failed trials' errors, best/ loaded and asked
#      for recommendations on the GPU;
#   2. engine vs. PyG LightGCN training speed on CUDA (bench_train.py, 5 epochs, both datasets);
#   3. the LightGCN paper reproduction on full Gowalla (reproduce_lightgcn.py) within the time left.
#
# Prepare here, once per session (the device gets the repo only, not ../shared; .gpu/ is git-ignored):
#   mkdir -p .gpu/datasets && cp -r ../shared/datasets/gowalla .gpu/datasets/
#   mkdir -p .gpu/whl && (cd .gpu/whl && python3 -m pip download --no-deps --only-binary=:all: \
#       --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 optuna==5.0.0 SQLAlchemy==2.1.9 alembic==1.20.1 Mako==1.4.3 \
#       colorlog==6.12.0 plotly==7.1.0)
# then call the device tool's run with
#   command: bash experiments/gpu_checks.sh      carry: [".gpu"]      timeout_s: 600
# Its python3 has torch (CUDA), torch-geometric, pandas, pyyaml, tqdm and pytest; the search also
# needs the wheels above (NNI is optional: its controllers are simply not registered there).
# Everything lands in $OUT (the device tool's result folder), else experiments/out/gpu.
# DEVICE=cpu BUDGET=120 bash experiments/gpu_checks.sh dry-runs it on a machine without a GPU.
set -uo pipefail
export PYTHONUNBUFFERED=1 GNNNAS_SHARED="$PWD/.gpu"
device="${DEVICE:-cuda}"
budget="${BUDGET:-570}"
out="${OUT:-experiments/out/gpu}"
work="$(mktemp -d)"
mkdir -p "$out"
py=${PYTHON:-python3}
start=$(date +%s)
if ls .gpu/whl/*.whl >/dev/null 2>&1; then
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" .gpu/whl/*.whl \
        || exit 1
    export PYTHONPATH="$work/site"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c "import torch, torch_geometric as g, optuna; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0), 'pyg', g.__version__, 'optuna', optuna.__version__)"
  lscpu | grep -E '^(Model name|CPU\(s\))'
} 2>&1 | tee "$out/gpu.txt"

# 1. CUDA correctness: the CUDA test, then a real search on the GPU and its winner served from the GPU.
timeout 60 $py -m pytest -q -p no:cacheprovider tests/test_metrics.py -k cuda 2>&1 | tail -3 | tee -a "$out/gpu.txt"
timeout 170 $py -m gnnnas search --space default --device "$device" --trials 16 --timeout 120 --max-epochs 20 \
    --seed 0 --out "$work/search" 2>&1 | grep -v -E '^\s*(epoch|trial [0-9]+ epoch)' | tail -40 | tee "$out/search.txt"
cp "$work/search/leaderboard.csv" "$out/" 2>/dev/null
timeout 60 $py - "$work/search" "$device" <<'EOF' 2>&1 | tee -a "$out/search.txt"
import sys, time, collections, optuna, gnnnas
folder, device = sys.argv[1], sys.argv[2]
study = optuna.load_study(study_name=None, storage=f"sqlite:///{folder}/study.db")
for t in study.trials:
    if t.state.name == "FAIL":
        print("failed trial", t.number, t.user_attrs.get("error"))
print("trial states", dict(collections.Counter(t.state.name for t in study.trials)))
best = gnnnas.load(f"{folder}/best", device=device)
print("best", best.spec, "on", next(best.model.parameters()).device)
users = best.known_users()[:256]
t0 = time.perf_counter(); recs = best.recommend(users, k=10); dt = time.perf_counter() - t0
print(f"recommend 256 users: {dt * 1000:.1f} ms; first: {users[0]} -> {recs[users[0]][:3]}")
print("evaluate", best.evaluate())
EOF

# 2. Training speed, engine vs. PyG's LightGCN (CSR and edge_index), interleaved epochs.
timeout 150 $py experiments/bench_train.py --device "$device" --epochs 5 --datasets gowalla-6000,online-retail \
    --variants engine,pyg-csr,pyg-edge_index 2>&1 | tee "$out/bench_train.txt"

# 3. The reproduction gets what is left of the budget (selection, then the refit if it fits).
left=$(( budget - ($(date +%s) - start) ))
[ "$left" -ge 60 ] && timeout $(( left + 15 )) $py experiments/reproduce_lightgcn.py --device "$device" --time-budget "$left" --out "$out" \
    2>&1 | grep -v '^train:' | tail -3 | tee "$out/reproduce.txt"
echo "gpu_checks: $(( $(date +%s) - start )) s" | tee -a "$out/gpu.txt"
rm -rf "$work"
