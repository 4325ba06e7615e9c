#!/usr/bin/env bash
# What runs on a lent GPU machine (README "GPU figures"): trains the two shipped slice priors
# (issue #6), runs the CUDA tests and the benchmarks on CUDA. Everything it writes goes to $OUT
# (the weights and one log). Time caps: T64 / T128 seconds of training (default 190 / 180).
#   OUT=/tmp/out bash benchmarks/device_run.sh
cd "$(dirname "$0")/.." || exit 1
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
OUT=${OUT:?set OUT}
LOG=$OUT/log.txt
T64=${T64:-190}; T128=${T128:-180}
BRAIN=${BRAIN:-.gpu/brain.npy}
step() { echo "=== $* ($(date +%T))" | tee -a "$LOG"; }
step gpu; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee -a "$LOG"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" 2>&1 | tee -a "$LOG"
step train 64
timeout $((T64 + 60)) python3 -m engine.slice_prior.train --size 64 --steps 100000 --batch 256 \
  --lr 4e-4 --seconds "$T64" --every 200 --brain "$BRAIN" --out "$OUT/slice_prior_64.pt" 2>&1 | tee -a "$LOG"
step train 128
timeout $((T128 + 60)) python3 -m engine.slice_prior.train --size 128 --steps 100000 --batch 96 \
  --lr 4e-4 --seconds "$T128" --every 100 --brain "$BRAIN" --out "$OUT/slice_prior_128.pt" 2>&1 | tee -a "$LOG"
mkdir -p resources/priors && cp "$OUT"/slice_prior_*.pt resources/priors/ 2>/dev/null
step cuda tests
timeout 90 python3 -m pytest -q -p no:cacheprovider tests/engine/test_cuda.py 2>&1 | tail -15 | tee -a "$LOG"
step diffusion_recon cuda
timeout 120 python3 benchmarks/diffusion_recon.py --device cuda --size 128 --slices 32 \
  --brain-npy "$BRAIN" --markdown 2>&1 | tee -a "$LOG"
if [ -f benchmarks/recon.py ]; then
  step recon cuda; timeout 60 python3 benchmarks/recon.py --device cuda 2>&1 | tail -30 | tee -a "$LOG"
fi
step gradient_flow cuda
timeout 40 python3 benchmarks/gradient_flow.py --device cuda --numpy-subset 50 --repeats 2 2>&1 | tail -12 | tee -a "$LOG"
step diffusion cuda
timeout 40 python3 benchmarks/diffusion.py --device cuda --numpy-steps 5 --no-single 2>&1 | tail -12 | tee -a "$LOG"
step done
