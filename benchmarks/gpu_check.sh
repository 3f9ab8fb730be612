#!/usr/bin/env bash
# fused_resize on a GPU, in ONE call of the device tool: the CUDA tests, then the CUDA
# benchmark (issue 14). Everything it writes lands in $OUT, which the tool copies back.
#
# The device machine has torch (CUDA build), numpy and friends, but not this project's
# venv, streamlit or (maybe) pytest, and no network. So, here first (15 MiB, ignored by git):
#
#   .venv/bin/pip install --quiet --target artifacts/gpu_deps --no-deps \
#       pytest pluggy iniconfig packaging pygments
#
# then one device call (about 2-4 minutes of device time with the start):
#
#   run(command="bash benchmarks/gpu_check.sh", carry=["artifacts/gpu_deps"], timeout_s=540)
#
# $OUT then holds: gpu.txt (nvidia-smi, torch, CUDA, cuDNN), pytest.txt (the CUDA tests:
# tests/test_fused_resize.py and tests/test_timing.py, CPU cases included), and
# upsampling_cuda.txt / upsampling_cuda.json (benchmarks/upsampling.py --device cuda:
# float64 exactness on the GPU, then CUDA-event medians, fp32 and bf16, channels_last).
# Copy the JSON to benchmarks/results/upsampling_cuda.json and the table to the README.
# Without $OUT (a local try) the files go to artifacts/gpu_check/.

set -u
OUT="${OUT:-artifacts/gpu_check}"
mkdir -p "$OUT"
PY="${PYTHON:-python}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ -d artifacts/gpu_deps ]; then
    export PYTHONPATH="$PWD/artifacts/gpu_deps${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

{
    date -u
    if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi; else echo "no nvidia-smi"; fi
    "$PY" -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__,
'| CUDA', torch.version.cuda, '| cuDNN', torch.backends.cudnn.version(),
'| GPU', torch.cuda.get_device_name() if torch.cuda.is_available() else None)"
} > "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"

if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA GPU visible to torch on this machine: nothing to check" \
        | tee -a "$OUT/gpu.txt"
    exit 2
fi

# 1. The tests (CPU and CUDA cases). --noconftest: tests/conftest.py needs streamlit.
if "$PY" -c "import pytest" 2>/dev/null; then
    timeout 200 "$PY" -m pytest --noconftest -p no:cacheprovider -o addopts="" -q -rs \
        tests/test_fused_resize.py tests/test_timing.py > "$OUT/pytest.txt" 2>&1
    rc=$?
    echo "pytest exit status: $rc" >> "$OUT/pytest.txt"
    [ "$rc" -eq 0 ] || status=1
else
    echo "pytest is not importable here (carry artifacts/gpu_deps, see the header):" \
        "the benchmark's float64 exactness check below stands in for the tests" > "$OUT/pytest.txt"
fi
tail -n 15 "$OUT/pytest.txt"

# 2. The benchmark: exactness in float64 on the GPU, then the timing table.
timeout 300 "$PY" benchmarks/upsampling.py --device cuda --no-write \
    --out "$OUT/upsampling_cuda.json" > "$OUT/upsampling_cuda.txt" 2>&1
rc=$?
echo "benchmark exit status: $rc" >> "$OUT/upsampling_cuda.txt"
[ "$rc" -eq 0 ] || status=1
grep -v "^  done" "$OUT/upsampling_cuda.txt"
exit "$status"
