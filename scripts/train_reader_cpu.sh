#!/bin/sh
# One more training pass of the neural reader on this 2-core CPU, in the background-friendly way
# session 5 ran it (76 min for 4,000 steps on 1 thread with bf16): resumable, checkpoints every 100
# steps, log in WORK/train-log.txt. It starts from the shipped reader and exports to OUTPUT_DIR;
# ship it (copy to rag/models/reader) only if `python eval/decoding.py heldout --model OUTPUT_DIR`
# beats the shipped one on held-out training questions.
#
#   nohup sh scripts/train_reader_cpu.sh [OUTPUT_DIR] > train.out 2>&1 &
set -eu
cd "$(dirname "$0")/.."
OUTPUT=${1:-.cache/reader-next}
WORK=${WORK:-.cache/reader-train-next}
exec .venv/bin/python -m rag.training.train --init-from rag/models/reader \
  --max-length 192 --stride 64 --freeze-layers 0 \
  --negative-ratio 0.3 --deleted-negative-ratio 0.5 --cross-negative-ratio 0.1 \
  --lr 3e-5 --warmup 0.03 --batch-size 16 --threads 1 --bf16 --epochs 1 --max-steps ${STEPS:-4000} \
  --max-minutes ${MINUTES:-100} --log-every 25 --checkpoint-every 100 --work-dir "$WORK" --output-dir "$OUTPUT" --resume
