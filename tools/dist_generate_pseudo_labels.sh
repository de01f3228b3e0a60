#!/usr/bin/env bash
# Usage: bash tools/dist_generate_pseudo_labels.sh CONFIG CHECKPOINT NPROC --out-dir DIR [...]
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
PORT=${PORT:-29501}
PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
python -m torch.distributed.run --nproc_per_node=$NPROC --master_port=$PORT \
    $(dirname "$0")/generate_pseudo_labels.py $CONFIG $CHECKPOINT --launcher pytorch ${@:4}
