#!/usr/bin/env bash
# The GPU measurements still open in issue 2, as one device run of under 10 minutes:
#   1. engine vs. PyG LightGCN training speed on CUDA (bench_train.py, 5 epochs, both datasets);
#   2. the LightGCN paper reproduction on full Gowalla (reproduce_lightgcn.py) within the time left.
#
# Prepare here, once per session (the device gets the repo only, not ../shared):
#   mkdir -p .gpu/datasets && cp -r ../shared/datasets/gowalla .gpu/datasets/    (.gpu/ is git-ignored)
# then call the device tool's run with
#   command: bash experiments/gpu_checks.sh      carry: [".gpu"]      timeout_s: 600
# Its python3 has torch (CUDA), torch-geometric, pandas, pyyaml and tqdm, which is all these two
# scripts import. Everything lands in $OUT (the device tool's result folder), else experiments/out/gpu.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" GNNNAS_SHARED="$PWD/.gpu"
out="${OUT:-experiments/out/gpu}"
mkdir -p "$out"
py=python3
start=$(date +%s)

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
$py -c "import torch, torch_geometric as g; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'pyg', g.__version__)" \
    2>&1 | tee -a "$out/gpu.txt"

# 1. Training speed, engine vs. PyG's LightGCN (CSR and edge_index), interleaved epochs.
timeout 200 $py experiments/bench_train.py --device cuda --epochs 5 --datasets gowalla-6000,online-retail \
    --variants engine,pyg-csr,pyg-edge_index 2>&1 | tee "$out/bench_train.txt"

# 2. The reproduction gets what is left of ~9.5 minutes (selection, then the refit if it fits).
left=$(( 570 - ($(date +%s) - start) ))
timeout $(( left + 15 )) $py experiments/reproduce_lightgcn.py --device cuda --time-budget "$left" --out "$out" \
    2>&1 | grep -v '^train:' | tail -3 | tee "$out/reproduce.txt"
echo "gpu_checks: $(( $(date +%s) - start )) s"
