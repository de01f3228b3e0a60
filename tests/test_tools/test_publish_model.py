"""tools/model_converters/publish_model.py on a tiny real checkpoint: a CAMClassifier saved
the way mmengine's Runner saves one (meta, state_dict, optimizer, param_schedulers and a
message hub holding HistoryBuffers)."""
import hashlib
import os
import os.path as osp
import re

import pytest
import torch
import yaml
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mmwsss.registry import MODELS
from mmwsss.testing import TINY_CHANNELS, tiny_backbone_cfg
from mmwsss.testing.tools import load_tool
from mmwsss.utils.checkpoint_compat import load_checkpoint_strict, safe_torch_load

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
MODEL = dict(
    type='CAMClassifier',
    data_preprocessor=dict(type='mmseg.SegDataPreProcessor', mean=MEAN, std=STD),
    backbone=tiny_backbone_cfg(),
    decode_head=dict(type='CAMHead', in_channels=TINY_CHANNELS[-1], in_index=0, num_classes=3))


@pytest.fixture
def publish():
    return load_tool('tools/model_converters/publish_model.py')


def _model():
    init_default_scope('mmwsss')
    torch.manual_seed(0)
    model = MODELS.build(MODEL)
    model.init_weights()
    return model


def _runner_checkpoint(path):
    """What mmengine's ``Runner.save_checkpoint`` writes, after two SGD steps."""
    model = _model()
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda it: 1.0)
    for _ in range(2):
        optim.zero_grad()
        sum(p.square().sum() for p in model.parameters()).backward()
        optim.step()
        sched.step()
    hub = MessageHub.get_instance('publish_model_test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('iter', 2)
    ckpt = dict(
        meta=dict(
            epoch=0,
            iter=2,
            seed=0,
            mmengine_version='0.10.7',
            dataset_meta=dict(classes=('background', 'a', 'b'))),
        state_dict=model.state_dict(),
        optimizer=optim.state_dict(),
        param_schedulers=[sched.state_dict()],
        message_hub=hub.state_dict())
    torch.save(ckpt, path)
    return model, ckpt


def _write_config(tmp_path):
    cfg = tmp_path / 'zoo' / 'cam_tiny_1xb2-2i_coco-mini-voc-32x32.py'
    cfg.parent.mkdir()
    cfg.write_text(f'default_scope = "mmwsss"\nmodel = {MODEL!r}\n')
    meta = dict(Models=[
        dict(Name='other_tiny_1xb2-2i_coco-mini-voc-32x32', Config='x.py'),
        dict(
            Name=cfg.stem,
            **{'In Collection': 'CAM'},
            Config=f'configs/cam/{cfg.name}',
            Metadata=dict(Backbone='tiny'),
            Weights=None),
    ])
    (cfg.parent / 'metafile.yaml').write_text(yaml.safe_dump(meta, sort_keys=False))
    return str(cfg)


def test_publish_strips_hashes_and_prints_the_entry(tmp_path, publish, capsys):
    src = str(tmp_path / 'iter_2.pth')
    model, ckpt = _runner_checkpoint(src)
    config = _write_config(tmp_path)
    out_stem = str(tmp_path / 'published' / 'cam_tiny_1xb2-2i_coco-mini-voc-32x32')
    final = publish.main(
        [src, out_stem, '--metafile-entry', config, '--base-url', 'https://example.org/mmwsss/'])
    out = capsys.readouterr().out

    # named OUT_STEM-<first 8 hex digits of its sha256>.pth, nothing else left behind
    m = re.fullmatch(re.escape(out_stem) + r'-([0-9a-f]{8})\.pth', final)
    assert m, final
    with open(final, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == m.group(1)
    assert os.listdir(osp.dirname(final)) == [osp.basename(final)]

    # meta + state_dict only, loadable by the safe loader, weights unchanged
    pub = safe_torch_load(final)
    assert sorted(pub) == ['meta', 'state_dict']
    assert pub['meta'] == ckpt['meta']
    assert list(pub['state_dict']) == list(ckpt['state_dict'])
    for k, v in ckpt['state_dict'].items():
        assert torch.equal(pub['state_dict'][k], v)
    assert osp.getsize(final) < osp.getsize(src)  # the momentum buffers are gone
    fresh = _model()
    load_checkpoint_strict(fresh, final)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v)

    # the printed metafile entry: that config's model, Weights filled in
    assert 'dropped [\'message_hub\', \'optimizer\', \'param_schedulers\']' in out
    entry = yaml.safe_load(out.split('metafile entry:\n', 1)[1])
    assert entry[0]['Name'] == 'cam_tiny_1xb2-2i_coco-mini-voc-32x32'
    assert entry[0]['Weights'] == 'https://example.org/mmwsss/' + osp.basename(final)


def test_publish_without_config_prints_weights_line(tmp_path, publish, capsys):
    src = str(tmp_path / 'iter_2.pth')
    _runner_checkpoint(src)
    final = publish.main([src, str(tmp_path / 'model.pth')])  # a .pth stem is tolerated
    assert re.fullmatch(re.escape(str(tmp_path / 'model')) + r'-[0-9a-f]{8}\.pth', final)
    out = capsys.readouterr().out
    assert yaml.safe_load(out.split('metafile entry:\n', 1)[1]) == {'Weights': final}


def test_publish_is_deterministic_and_refuses_unsafe_files(tmp_path, publish):
    src = str(tmp_path / 'iter_2.pth')
    _runner_checkpoint(src)
    a = publish.main([src, str(tmp_path / 'a' / 'm')])
    b = publish.main([src, str(tmp_path / 'b' / 'm')])
    assert osp.basename(a) == osp.basename(b)  # same content, same hash
    evil = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': {'x': _Opaque()}}, evil)
    from mmwsss.utils.checkpoint_compat import UnsafeCheckpointError
    with pytest.raises(UnsafeCheckpointError):
        publish.main([evil, str(tmp_path / 'c' / 'm')])
    assert not osp.exists(tmp_path / 'c')


def test_strip_checkpoint_wraps_a_bare_state_dict(publish):
    sd = {'w': torch.ones(2)}
    assert publish.strip_checkpoint(sd) == {'meta': {}, 'state_dict': sd}
    with pytest.raises(KeyError, match='no state_dict'):
        publish.strip_checkpoint({'meta': {}, 'optimizer': {}})


class _Opaque:
    pass


def test_published_file_has_the_usual_permissions(tmp_path):
    """A temporary-file writer (mkstemp) leaves 0600: a published checkpoint must be
    readable like any file the user writes (umask applies)."""
    import torch
    tool = load_tool('tools/model_converters/publish_model.py')
    old = os.umask(0o022)
    try:
        path = tool.save_atomic_hashed({
            'state_dict': {
                'w': torch.ones(2)
            },
            'meta': {}
        }, str(tmp_path / 'm'))
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
    with open(path, 'rb') as f:
        assert osp.basename(path) == f'm-{hashlib.sha256(f.read()).hexdigest()[:8]}.pth'
