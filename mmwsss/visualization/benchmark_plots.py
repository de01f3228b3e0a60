"""Plots of the cross-method benchmark (tools/benchmark.py), as PNG files.

* :func:`plot_per_class_iou` -- grouped bars: one group per class, one bar per method;
* :func:`plot_threshold_curves` -- seed mIoU against the background threshold, one line
  per method (the CAMMetric sweep).

Both return the matplotlib figure's drawn data (bar heights / line points) so that a
test can check that the picture shows what the inputs say.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from mmwsss.utils.io import atomic_write_bytes


def _figure(width: float, height: float):
    import matplotlib
    matplotlib.use('Agg', force=False)
    import matplotlib.pyplot as plt
    return plt, plt.figure(figsize=(width, height), dpi=100)


def _save(plt, fig, path: str) -> None:
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format='png', bbox_inches='tight')
    plt.close(fig)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def plot_per_class_iou(per_class: Dict[str, Dict[str, Optional[float]]],
                       path: str,
                       classes: Optional[Sequence[str]] = None) -> Dict[str, List[float]]:
    """Grouped bar chart of per-class IoU (%), one colour per method.

    Args:
        per_class: ``{method: {class name: IoU or None}}`` (None / missing: no bar).
        path: output PNG.
        classes: class order (default: the first method's order).
    Returns:
        ``{method: bar heights in class order}`` as drawn (NaN for no bar).
    """
    plt, fig = _figure(14, 4)
    ax = fig.add_subplot(111)
    methods = list(per_class)
    classes = list(classes or (next(iter(per_class.values())) if per_class else []))
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(classes))
    drawn = {}
    for i, method in enumerate(methods):
        heights = [per_class[method].get(c) for c in classes]
        heights = [np.nan if h is None else float(h) for h in heights]
        ax.bar(x + i * width - 0.4 + width / 2, heights, width, label=method)
        drawn[method] = heights
    ax.set_xticks(x)
    ax.set_xticklabels(classes, rotation=60, ha='right')
    ax.set_ylabel('IoU (%)')
    ax.set_ylim(0, 100)
    ax.set_title('pseudo-label IoU per class')
    if methods:
        ax.legend(fontsize=7, ncol=2)
    else:
        ax.text(0.5, 0.5, 'no finished row', ha='center', transform=ax.transAxes)
    _save(plt, fig, path)
    return drawn


def plot_threshold_curves(curves: Dict[str, Sequence[dict]], path: str) -> Dict[str, tuple]:
    """Seed mIoU (%) against the background threshold, one line per method.

    Args:
        curves: ``{method: [dict(bg_thr, mIoU), ...]}`` (CAMMetric's ``curve``).
        path: output PNG.
    Returns:
        ``{method: (thresholds, mIoU values)}`` as drawn.
    """
    plt, fig = _figure(7, 4)
    ax = fig.add_subplot(111)
    drawn = {}
    for method, points in curves.items():
        thr = [float(p['bg_thr']) for p in points]
        miou = [np.nan if p['mIoU'] is None else float(p['mIoU']) for p in points]
        ax.plot(thr, miou, marker='.', label=method)
        drawn[method] = (thr, miou)
    ax.set_xlabel('background threshold')
    ax.set_ylabel('seed mIoU (%)')
    ax.set_title('CAM seeds: background-threshold sweep')
    if curves:
        ax.legend(fontsize=7)
    else:
        ax.text(0.5, 0.5, 'no finished row', ha='center', transform=ax.transAxes)
    _save(plt, fig, path)
    return drawn
