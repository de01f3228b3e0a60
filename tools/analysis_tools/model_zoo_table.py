"""Generate model-index.yml and docs/en/model_zoo.md from configs/*/metafile.yaml.

    python tools/analysis_tools/model_zoo_table.py            # (re)write both
    python tools/analysis_tools/model_zoo_table.py --check    # exit 1 if one is stale

It also rewrites the compact table of the README between its ``<!-- model-zoo:start -->``
and ``<!-- model-zoo:end -->`` markers: one row per method, its headline published VOC
numbers and what this repository measured with its benchmark config.

model-index.yml imports every method folder's metafile.yaml (sorted), so a new method
joins the zoo, the page and the benchmark by writing its metafile and re-running this.

Three tables: the methods (paper, official code and the commit read, the benchmark
config), every published number (paper / official README / maintainers, not reproduced
here) and every number measured in this repository (coco-mini, CPU). Nothing in the page
is typed by hand, so a metafile change that is not regenerated fails
tests/test_configs/test_model_zoo_table.py.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmwsss.utils.model_zoo import load_model_index, metafile_paths, parse_config_name, repo_root

OUT = osp.join('docs', 'en', 'model_zoo.md')
INDEX = 'model-index.yml'
README = 'README.md'
START, END = '<!-- model-zoo:start -->', '<!-- model-zoo:end -->'


def render_index(root: Optional[str] = None) -> str:
    """model-index.yml: ``Import`` of every configs/*/metafile.yaml, sorted."""
    root = root or repo_root()
    paths = [osp.relpath(p, root) for p in metafile_paths(root)]
    return 'Import:\n' + ''.join(f'- {p}\n' for p in paths)


def _cell(value) -> str:
    if value is None:
        return '-'
    return str(value).replace('|', '\\|').replace('\n', ' ').strip() or '-'


def _metrics(metrics: dict, provenance: str) -> str:
    missing = 'pending' if provenance == 'measured' else 'unverified'
    return '; '.join(f'{key} **{missing if value is None else value}**'
                     for key, value in metrics.items())


def _schedule(slots: dict, lr_schd) -> str:
    """The name's NxbM-schedule slot, plus the metafile's iterations where they add to it
    (``1xb8-8e (10576 iters)``, ``4xb1-26k (26450 iters)``)."""
    if not slots.get('schedule'):
        return _cell(lr_schd)
    sched = slots['schedule']
    name = f'{slots["gpus"]}xb{slots["batch"]}-{sched}'
    exact = {'k': lambda n: int(n) * 1000, 'i': int}.get(sched[-1])
    if isinstance(lr_schd, int) and (exact is None or exact(sched[:-1]) != lr_schd):
        return f'{name} ({lr_schd} iters)'
    return name


def _link(text: str, url: Optional[str]) -> str:
    return f'[{_cell(text)}]({url})' if url else _cell(text)


def _rel(path: str) -> str:
    """A repository path as a link target relative to docs/en/."""
    return '../../' + path


def _table(header: List[str], rows: List[List[str]]) -> List[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    return lines


def render(root: Optional[str] = None, index: Optional[str] = None) -> str:
    """The page, from the metafiles that ``index`` (default: root/model-index.yml) imports."""
    root = root or repo_root()
    metas = load_model_index(root, index)
    methods, published, measured = [], [], []
    n_models = 0
    for meta in metas:
        for coll in meta['Collections']:
            models = [m for m in meta['Models'] if m['In Collection'] == coll['Name']]
            n_models += len(models)
            code = coll['Code']
            code_cell = _link(code['URL'].split('github.com/')[-1], code['URL']) \
                if code['URL'] else _cell(code.get('Note'))
            if code.get('Version'):
                code_cell += f' @ `{code["Version"]}`'
            bench = [m['Name'] for m in models if m['Metadata'].get('Benchmark')]
            methods.append([
                _link(coll['Name'], _rel(coll['README'])),
                _link(coll['Paper']['Title'], coll['Paper']['URL']), code_cell,
                str(len(models)), ', '.join(f'`{b}`' for b in bench) or '-'
            ])
            for model in models:
                md = model['Metadata']
                slots = parse_config_name(model['Name']) or {}
                for res in model['Results']:
                    row = [
                        _cell(coll['Name']),
                        _link(model['Name'], _rel(model['Config'])),
                        _cell(md['Backbone']),
                        _cell(md['Crop Size']),
                        _cell(_schedule(slots, md['lr schd'])),
                        _cell(res['Task']),
                        _cell(res['Dataset']),
                        _metrics(res['Metrics'], res['Provenance']),
                        _cell(res.get('Note')),
                    ]
                    (published if res['Provenance'] == 'published' else measured).append(row)
    header = [
        'Method', 'Config', 'Backbone', 'Crop', 'Schedule', 'Task', 'Dataset', 'Metrics', 'Note'
    ]
    lines = [
        '# Model zoo',
        '',
        '<!-- generated by tools/analysis_tools/model_zoo_table.py from configs/*/metafile.yaml'
        ' (model-index.yml); do not edit by hand: edit the metafiles and re-run it -->',
        '',
        f'{len(methods)} method folders, {n_models} configs with a metafile entry. Each '
        'folder\'s `metafile.yaml` follows one schema (mmwsss/utils/model_zoo.py); the root '
        '`model-index.yml` imports them all.',
        '',
        '- **Published** numbers come from the paper, the official README or the maintainers '
        '(the Note says which), with the official backbone and schedule; none of them was '
        'reproduced here (no GPU).',
        '- **Measured here** numbers come from this repository on coco-mini: 104 COCO 2017 '
        'training images with image labels and 105 val images with masks, in the VOC label '
        'space, trained on 2 CPU cores with CPU-sized configs (small backbones, a few hundred '
        'iterations). They check that a method runs end to end; 104 images are far too few to '
        'rank methods, and they are not comparable with the published VOC / COCO numbers. '
        'Full-size (VOC / COCO) rows in this table are runs still to do (pending).',
        '- "Pseudo Label Generation" rows score labels on the training images (CAM seeds or '
        'refined masks), "Semantic Segmentation" rows the segmenter on val / test. '
        '"pending" marks a number not measured here yet, "unverified" a published number '
        'that no primary source confirmed (or that does not exist).',
        '- Configs tagged `Benchmark: [coco-mini]` in their metafile are the rows that '
        '`tools/benchmark.py` runs.',
        '- A new method joins by writing `configs/<method>/metafile.yaml` in this schema and '
        'running `python tools/analysis_tools/model_zoo_table.py` (it rewrites '
        '`model-index.yml` and this page). A trained checkpoint is published with '
        '`tools/model_converters/publish_model.py IN.pth OUT_STEM --metafile-entry CONFIG`, '
        'which prints the `Weights` entry to add.',
        '',
        '## Methods',
        '',
    ]
    lines += _table([
        'Method', 'Paper', 'Official code @ commit read', 'Configs', 'Benchmark config (coco-mini)'
    ], methods)
    lines += ['', '## Published numbers', '']
    lines += _table(header, published)
    lines += ['', '## Measured here', '']
    lines += _table(header, measured)
    return '\n'.join(lines) + '\n'


def _first_value(metrics: dict, missing: str) -> str:
    key, value = next(iter(metrics.items()))
    what = key[len('mIoU '):] if key.startswith('mIoU (') else f'({key})'
    return f'{missing if value is None else value}' + ('' if key == 'mIoU' else f' {what}')


def _headline(models: List[dict], task: str, dataset: str) -> str:
    """The first published ``task`` number on a dataset starting with ``dataset``."""
    for model in models:
        for res in model['Results']:
            if (res['Provenance'] == 'published' and res['Task'] == task
                    and res['Dataset'].startswith(dataset)):
                return _cell(_first_value(res['Metrics'], 'unverified'))
    return '-'


def _short_task(task: str) -> str:
    return {'Pseudo Label Generation': 'labels', 'Semantic Segmentation': 'seg'}.get(task, task)


def render_readme_table(root: Optional[str] = None, index: Optional[str] = None) -> str:
    """The README's compact table (between :data:`START` and :data:`END`)."""
    rows = []
    for meta in load_model_index(root or repo_root(), index):
        for coll in meta['Collections']:
            models = [m for m in meta['Models'] if m['In Collection'] == coll['Name']]
            bench = [m for m in models if m['Metadata'].get('Benchmark')]
            measured = []
            for model in bench:
                measured += [
                    f'{_short_task(r["Task"])} {_first_value(r["Metrics"], "pending")}'
                    for r in model['Results'] if r['Provenance'] == 'measured'
                ]
            rows.append([
                _link(coll['Name'], coll['README']),
                _headline(models, 'Pseudo Label Generation', 'Pascal VOC 2012 train'),
                _headline(models, 'Semantic Segmentation', 'Pascal VOC 2012 val'),
                _cell('; '.join(measured)) if bench else '-',
            ])
    lines = [
        START,
        '<!-- generated by tools/analysis_tools/model_zoo_table.py from the metafiles -->',
    ]
    lines += _table([
        'Method', 'Published: VOC train pseudo-label mIoU', 'Published: VOC val mIoU',
        'Measured here: coco-mini, CPU (benchmark config)'
    ], rows)
    return '\n'.join(lines + [END])


def update_readme(text: str, table: str, path: str = README) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f'{path} must hold one {START} ... {END} block for the model-zoo table')
    return text[:text.index(START)] + table + text[text.index(END) + len(END):]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=None, help=f'the page (default: {OUT})')
    parser.add_argument('--index', default=None, help=f'the model index (default: {INDEX})')
    parser.add_argument(
        '--readme', default=None, help=f'the README with the compact table (default: {README})')
    parser.add_argument(
        '--check',
        action='store_true',
        help='do not write; exit 1 if a file differs from the metafiles')
    args = parser.parse_args(argv)
    root = repo_root()
    index = args.index or osp.join(root, INDEX)
    out = args.out or osp.join(root, OUT)
    stale = 0
    readme = args.readme or osp.join(root, README)

    def readme_text() -> str:
        with open(readme, encoding='utf-8') as f:
            return update_readme(f.read(), render_readme_table(root, index), readme)

    # the index first: the pages are rendered from the metafiles it imports
    for path, make in ((index, lambda: render_index(root)), (out, lambda: render(root, index)),
                       (readme, readme_text)):
        text = make()
        current = open(path).read() if osp.isfile(path) else ''
        if args.check:
            if current != text:
                print(
                    f'{path} is stale: run python tools/analysis_tools/model_zoo_table.py',
                    file=sys.stderr)
                stale = 1
            else:
                print(f'{path} is up to date')
        elif current != text:
            with open(path, 'w') as f:
                f.write(text)
            print(f'wrote {path}')
    return stale


if __name__ == '__main__':
    sys.exit(main())
