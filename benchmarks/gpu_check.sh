#!/usr/bin/env bash
# Every check that needs CUDA, in one go on a lent GPU machine (about 3 minutes on an H200).
#
#   bash benchmarks/gpu_check.sh              # from anywhere; runs in the repository root
#   GPU_CHECK_CPU=1 bash benchmarks/gpu_check.sh   # also the CPU selection benchmark there
#
# Steps, each under its own time limit; a failing step is reported and the next runs:
#   1. environment: GPU, python, torch/CUDA and the packages skclip-sage imports;
#   2. make the package importable: `pip install -e .` where an index is reachable, else
#      PYTHONPATH=<repo> (the lent machines here reach no index; their image has torch,
#      scikit-learn, pandas, Pillow, pytest and safetensors, but not open_clip_torch, ftfy
#      or wcwidth: download those wheels on a networked machine into .whl/ first, e.g.
#        echo /.whl/ >> .git/info/exclude
#        python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#          --implementation cp --platform manylinux2014_x86_64 -d .whl \
#          open_clip_torch==3.3.0 ftfy wcwidth
#      and carry .whl; this script installs whatever is in .whl/ into /tmp/site);
#   3. pytest -m gpu (the GPU tests of every module; skipped-not-faked elsewhere);
#   4. benchmarks/bench_selection.py on CUDA (torch tensors on the GPU), the issue's sizes;
#   5. benchmarks/bench_embedder.py on CUDA with bf16 autocast, ViT-B-32 random weights.
# Everything is printed; with $OUT set (the device tool) a copy goes to $OUT/gpu_check.log.

set -u
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
PYTHON=${PYTHON:-python3}
LOG=${OUT:+$OUT/gpu_check.log}
LOG=${LOG:-/dev/null}
failures=()

step() {  # step NAME SECONDS COMMAND...
    local name=$1 seconds=$2
    shift 2
    echo
    echo "=== $name (limit ${seconds}s) ==="
    local start=$SECONDS
    timeout "$seconds" "$@"
    local status=$?
    echo "--- $name: exit $status after $((SECONDS - start))s"
    [ "$status" -eq 0 ] || failures+=("$name (exit $status)")
}

main() {
    step "environment" 60 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
        || echo 'nvidia-smi: not available'; $PYTHON benchmarks/gpu_check_environment.py"

    if compgen -G ".whl/*.whl" > /dev/null; then
        step "carried wheels" 120 "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
            --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
        export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    fi
    # Offline, pip may not fetch build requirements: build with the installed setuptools,
    # and fall back to the source tree when even that fails.
    if ! "$PYTHON" -c "import skclip_sage" > /dev/null 2>&1; then
        if ! timeout 120 "$PYTHON" -m pip install -q --no-index --no-deps --no-build-isolation -e . \
                > /dev/null 2>&1; then
            echo "pip install -e . failed (offline?); using PYTHONPATH=$PWD"
            export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
        fi
    fi
    step "import skclip_sage" 60 "$PYTHON" -c \
        "import skclip_sage, open_clip; from skclip_sage import ClipImageEmbedder, SageZeroShotClassifier; print('skclip_sage', skclip_sage.__version__, 'open_clip', open_clip.__version__)"

    # Collection errors (an optional extra such as dask missing) must not hide the GPU tests.
    step "pytest -m gpu" 150 "$PYTHON" -m pytest tests -m gpu -q -rs -p no:cacheprovider \
        --continue-on-collection-errors -o addopts=""

    step "selection benchmark (cuda)" 150 "$PYTHON" benchmarks/bench_selection.py --device cuda \
        --n 20000 --classes 2 100 --k 1 5 20 --repeats 5 --paper-images 2048 --paper-max-gib 10 \
        --memory-n 5000 20000 80000

    step "embedding benchmark (cuda, bf16)" 180 "$PYTHON" benchmarks/bench_embedder.py --device cuda \
        --precision bf16 --images 1000 --batch-size 128 --workers 0 4 8 --repeats 2

    if [ "${GPU_CHECK_CPU:-0}" = "1" ]; then
        step "selection benchmark (cpu)" 240 "$PYTHON" benchmarks/bench_selection.py --device cpu \
            --repeats 3 --paper-images 1024 --memory-n 20000 80000
    fi

    echo
    if [ ${#failures[@]} -eq 0 ]; then
        echo "gpu_check: all steps passed"
    else
        echo "gpu_check: failed steps: ${failures[*]}"
        return 1
    fi
}

main 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
