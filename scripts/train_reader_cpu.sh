#!/bin/sh
# Reader v3 on this 2-core CPU: SQuAD v1.1 train (whole articles held out for calibration, answers
# that repeat in their paragraph dropped) mixed with the seven other sources, with look-alike
# negatives (a name or number of the question swapped: data.swapped_negatives) beside the
# other-paragraph, deleted-sentence and cross-source ones. One thread, bf16, resumable,
# checkpoints every 100 steps, log in WORK/train-log.txt; it starts from the shipped reader and
# exports to OUTPUT_DIR. Ship it (copy to rag/models/reader) only if its held-out numbers
# (OUTPUT_DIR/summary.json) beat the shipped reader's.
#
#   nohup sh scripts/train_reader_cpu.sh [OUTPUT_DIR] > train.out 2>&1 &
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${1:-.cache/reader-next}
WORK=${WORK:-.cache/reader-train-next}
exec .venv/bin/python -m rag.training.train --init-from ${INIT:-rag/models/reader} \
  --max-length 192 --stride 64 --freeze-layers 0 \
  --negative-ratio 0.2 --deleted-negative-ratio 0.3 --cross-negative-ratio 0.1 --swap-negative-ratio 0.3 \
  --file-caps qamr_dev.json=3000 qamr_test.json=3000 \
  --lr 5e-5 --warmup 0.03 --batch-size 16 --threads 1 --bf16 --epochs 1 --max-steps ${STEPS:-5000} \
  --max-minutes ${MINUTES:-105} --log-every 25 --checkpoint-every 100 --work-dir "$WORK" --output-dir "$OUTPUT" --resume
