"""Test-session set-up: make the shared coco-mini set reachable as data/coco-mini."""
import os
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _link_coco_mini() -> None:
    """Link ../shared/data/coco-mini into data/ (never copied into the repo)."""
    target = osp.join(REPO, 'data', 'coco-mini')
    if osp.exists(target):
        return
    for cand in (os.environ.get('MMWSSS_COCO_MINI',
                                ''), osp.join(REPO, '..', 'shared', 'data',
                                              'coco-mini'), '/work/shared/data/coco-mini'):
        if cand and osp.isdir(cand):
            os.makedirs(osp.dirname(target), exist_ok=True)
            try:
                os.symlink(osp.abspath(cand), target)
            except FileExistsError:
                pass
            return


_link_coco_mini()
