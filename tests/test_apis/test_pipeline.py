"""Recipe parsing of mmwsss.apis.pipeline (the steps tools/run_pipeline.py runs)."""
import pytest
from mmengine.config import Config

from mmwsss.apis.pipeline import PipelineError, Step, StepRecord, recipe_steps, summarize

CAM = 'configs/cam/cam-inhead_effnet-lite0_1xb8-300i_coco-mini-voc-320x320.py'
SEG = 'configs/cam/deeplabv3plus_effnet-lite0_1xb8-300i_coco-mini-voc-pl-cam-320x320.py'


def _cfg(**recipe) -> Config:
    return Config(dict(wsss_recipe=recipe))


def test_compact_recipe_expands_in_order():
    steps = recipe_steps(_cfg(bg_thr='seeds', stage2=SEG), CAM)
    assert [(s.name, s.kind) for s in steps] == [('stage1', 'train'), ('seeds', 'test'),
                                                 ('pseudo_labels', 'labels'),
                                                 ('label_eval', 'eval_labels'), ('stage2', 'train'),
                                                 ('stage2_val', 'test')]
    by = {s.name: s for s in steps}
    assert by['stage1'].config == CAM and by['stage2'].config == SEG
    assert by['seeds'].checkpoint == 'stage1' and by['pseudo_labels'].bg_thr == 'seeds'
    assert by['stage2'].labels == 'pseudo_labels' and by['stage2_val'].checkpoint == 'stage2'


def test_training_free_and_numeric_threshold():
    steps = recipe_steps(_cfg(stage1=None, bg_thr=0.3), CAM)
    assert [s.name for s in steps] == ['seeds', 'pseudo_labels', 'label_eval']
    assert steps[0].checkpoint is None and steps[1].bg_thr == 0.3
    assert recipe_steps(_cfg(), CAM)[2].bg_thr is None  # 'config': the config's own


@pytest.mark.parametrize('recipe, match',
                         [(dict(stage3=SEG), 'unknown wsss_recipe keys'),
                          (dict(seeds=None, bg_thr='seeds'), "needs a seeds stage"),
                          (dict(bg_thr='best'), "'config' or 'seeds'"),
                          (dict(pseudo_labels=None, stage2=SEG), 'stage2 needs pseudo_labels'),
                          (dict(stage2='configs/nope.py'), "'configs/nope.py' not found")])
def test_bad_recipes_name_the_key(recipe, match):
    with pytest.raises(PipelineError, match=match):
        recipe_steps(_cfg(**recipe), CAM)


def test_missing_recipe_names_the_config():
    with pytest.raises(PipelineError, match='deeplabv3plus.*no wsss_recipe'):
        recipe_steps(Config(dict()), SEG)


def test_step_list_references_are_checked():
    good = [
        dict(name='a', kind='train', config='this'),
        dict(name='b', kind='labels', config='this', checkpoint='a')
    ]
    steps = recipe_steps(Config(dict(wsss_recipe=dict(steps=good))), CAM)
    assert steps[1] == Step('b', 'labels', CAM, checkpoint='a')
    for bad, match in [
        ([dict(name='b', kind='labels', config='this', checkpoint='a')], "'a', which is not"),
        (good + [dict(name='a', kind='test', config='this')], 'two steps are named'),
        ([dict(name='a', kind='fit', config='this')], "kind 'fit'"),
        ([dict(name='a/b', kind='train', config='this')], 'plain folder name'),
        ([dict(name='a', kind='train', config='this', gpu=1)], 'unknown keys'),
        ([
            dict(name='a', kind='train', config='this'),
            dict(name='b', kind='labels', config='this', bg_thr='a')
        ], 'not an earlier test'),
    ]:
        with pytest.raises(PipelineError, match=match):
            recipe_steps(Config(dict(wsss_recipe=dict(steps=bad))), CAM)


def test_summary_picks_the_seed_and_final_numbers():
    recs = {
        'stage1':
        StepRecord('stage1', 'train', CAM, wall_s=10.0, peak_rss_mb=900.0),
        'seeds':
        StepRecord('seeds', 'test', CAM, metrics=dict(mIoU=33.9, bg_thr=0.42)),
        'pseudo_labels':
        StepRecord('pseudo_labels', 'labels', CAM, wall_s=4.0, images=8),
        'label_eval':
        StepRecord(
            'label_eval',
            'eval_labels',
            CAM,
            metrics=dict(mIoU=30.1, mPrecision=40.0, mRecall=50.0)),
        'stage2':
        StepRecord('stage2', 'train', SEG, wall_s=5.0, peak_rss_mb=1200.0),
        'stage2_val':
        StepRecord('stage2_val', 'test', SEG, metrics=dict(mIoU=20.5)),
    }
    s = summarize(recs)
    assert (s['seed mIoU'], s['bg_thr'], s['label mIoU'], s['stage-2 mIoU']) == (33.9, 0.42, 30.1,
                                                                                 20.5)
    assert s['train s'] == 15.0 and s['peak MB'] == 1200.0 and s['label img/s'] == 2.0
    assert s['label precision'] == 40.0 and s['label recall'] == 50.0


def test_reused_checkpoint_and_until(tmp_path):
    from mmwsss.apis.pipeline import PipelineRunner
    steps = recipe_steps(_cfg(stage2=SEG), CAM)
    ckpt = tmp_path / 'given.pth'
    ckpt.write_bytes(b'x')
    lines = []
    runner = PipelineRunner(
        steps,
        str(tmp_path / 'w'),
        reuse={'stage1': str(ckpt)},
        until='stage1',
        progress=lines.append)
    records = runner.run()
    assert list(records) == ['stage1'] and records['stage1'].checkpoint == str(ckpt)
    assert records['stage1'].wall_s is None and 'uses' in lines[0]
    assert (tmp_path / 'w' / 'stage1' / 'step.json').is_file()
    # reused stage 1: its training time is unknown, not 0
    assert summarize(records)['train s'] is None
    with pytest.raises(PipelineError, match="'seeds' is not a train step"):
        PipelineRunner(steps, str(tmp_path / 'w'), reuse={'seeds': str(ckpt)})
    with pytest.raises(PipelineError, match='file not found'):
        PipelineRunner(steps, str(tmp_path / 'w'), reuse={'stage1': str(tmp_path / 'no.pth')})
    with pytest.raises(PipelineError, match="--until 'stage3'"):
        PipelineRunner(steps, str(tmp_path / 'w'), until='stage3')
    with pytest.raises(PipelineError, match='--force names unknown'):
        PipelineRunner(steps, str(tmp_path / 'w'), force=['stage3'])


def test_commands_pass_checkpoints_and_options_once(tmp_path):
    from mmwsss.apis.pipeline import PipelineRunner
    steps = recipe_steps(
        Config(
            dict(
                wsss_recipe=dict(steps=[
                    dict(name='s1', kind='train', config='this'),
                    dict(name='s2', kind='train', config='this', checkpoint='s1'),
                    dict(
                        name='seeds',
                        kind='test',
                        config='this',
                        checkpoint='s1',
                        checkpoint_key='model.finetuned.checkpoint'),
                    dict(name='labels', kind='labels', config='this', checkpoint='s1', bg_thr=0.3),
                ]))), CAM)
    runner = PipelineRunner(steps, str(tmp_path), data_root='/data', tools_dir='tools')
    runner.records['s1'] = StepRecord('s1', 'train', CAM, checkpoint='/w/s1/iter_9.pth')
    by = {s.name: s for s in steps}
    cmd, _ = runner.command(by['s2'])  # a train step starts from s1 via load_from
    assert cmd[-2:] == ['--cfg-options', 'load_from=/w/s1/iter_9.pth']
    cmd, _ = runner.command(by['seeds'])
    # the CAMMetric curve file and the checkpoint key share ONE --cfg-options flag
    assert cmd.count('--cfg-options') == 1 and '/w/s1/iter_9.pth' not in cmd[:4]
    opts = cmd[cmd.index('--cfg-options') + 1:]
    assert opts[0] == 'model.finetuned.checkpoint=/w/s1/iter_9.pth'
    assert opts[1].startswith('test_evaluator.out_file=') and len(opts) == 2
    cmd, known = runner.command(by['labels'])
    assert cmd[3] == '/w/s1/iter_9.pth' and cmd[-2:] == ['--bg-thr', '0.3']
    assert known['label_dir'] == str(tmp_path / 'labels' / 'labels')


def test_step_cfg_options_reach_the_tool_in_one_flag(tmp_path):
    from mmwsss.apis.pipeline import PipelineRunner
    steps = recipe_steps(
        Config(
            dict(
                wsss_recipe=dict(steps=[
                    dict(name='s1', kind='train', config='this'),
                    dict(
                        name='seeds',
                        kind='test',
                        config='this',
                        checkpoint='s1',
                        checkpoint_key='model.init_cfg.checkpoint',
                        cfg_options={
                            'model.test_cfg.mode': 'argmax',
                            'model.test_cfg.scales': [1.0, 0.5]
                        }),
                ]))), CAM)
    runner = PipelineRunner(steps, str(tmp_path / 'w'), reuse={'s1': CAM})
    runner.records['s1'] = StepRecord('s1', 'train', CAM, checkpoint='ck.pth')
    cmd, _ = runner.command(steps[1])
    assert cmd.count('--cfg-options') == 1
    opts = cmd[cmd.index('--cfg-options') + 1:]
    assert 'model.test_cfg.mode=argmax' in opts and 'model.test_cfg.scales=[1.0,0.5]' in opts
    assert 'model.init_cfg.checkpoint=ck.pth' in opts
    for bad, match in [(dict(name='t', kind='test', config='this', cfg_options='a=1'), 'a dict'),
                       (dict(name='t', kind='train', config='this', role='seeds'), 'for test'),
                       (dict(name='t', kind='test', config='this', role='stage2'), 'for test')]:
        with pytest.raises(PipelineError, match=match):
            recipe_steps(Config(dict(wsss_recipe=dict(steps=[bad]))), CAM)


def test_test_roles_decide_the_seed_and_stage2_columns():
    """An argmax seed (no swept bg_thr, e.g. SIPE's IS-CAM) must not become the stage-2
    number; a val test of a segmenter trained on pseudo labels is stage 2 without a
    role; an explicit role wins."""
    from mmwsss.apis.pipeline import PipelineRunner
    steps = recipe_steps(
        Config(
            dict(
                wsss_recipe=dict(steps=[
                    dict(name='s1', kind='train', config='this'),
                    dict(name='seeds', kind='test', config='this', checkpoint='s1'),
                    dict(name='pl', kind='labels', config='this', checkpoint='s1'),
                    dict(name='s2', kind='train', config=SEG, labels='pl'),
                    dict(name='val', kind='test', config=SEG, checkpoint='s2'),
                    dict(name='s1_val', kind='test', config='this', checkpoint='s1', role='final'),
                ]))), CAM)
    runner = PipelineRunner(steps, '/nonexistent')
    by = {s.name: s for s in steps}
    argmax = StepRecord('seeds', 'test', CAM, metrics=dict(mIoU=25.9))
    assert runner.test_role(by['seeds'], argmax) == 'seeds'
    assert runner.test_role(by['val'], StepRecord('val', 'test', SEG)) == 'final'
    assert runner.test_role(by['s1_val'], StepRecord('s1_val', 'test', CAM)) == 'final'
    assert runner.test_role(by['pl'], StepRecord('pl', 'labels', CAM)) is None
    argmax.role = 'seeds'
    recs = {
        'seeds': argmax,
        'val': StepRecord('val', 'test', SEG, metrics=dict(mIoU=7.5), role='final')
    }
    s = summarize(recs)
    assert s['seed mIoU'] == 25.9 and s['stage-2 mIoU'] == 7.5 and s['bg_thr'] is None


def test_tool_steps_run_a_script_and_hand_on_their_outputs(tmp_path):
    """A method's own offline step (prototype bank, SAM masks) as a ``tool`` step: its
    placeholders name this step's folder, the data root and earlier steps' outputs; a
    tool that writes labels feeds ``labels=`` / ``{labels:STEP}`` like a labels step."""
    from mmwsss.apis.pipeline import PipelineRunner
    script = tmp_path / 'write.py'
    script.write_text('import sys, os\n'
                      'out = sys.argv[1]\n'
                      'os.makedirs(out, exist_ok=True)\n'
                      'open(os.path.join(out, "a.png"), "wb").write(b"png")\n'
                      'open(os.path.join(out, "args.txt"), "w").write(" ".join(sys.argv[2:]))\n')
    steps = recipe_steps(
        Config(
            dict(
                wsss_recipe=dict(steps=[
                    dict(
                        name='masks',
                        kind='tool',
                        script=str(script),
                        args=['{out}/labels', '{data_root}'],
                        label_out='{out}/labels'),
                    dict(
                        name='use',
                        kind='tool',
                        script=str(script),
                        args=['{out}', '{labels:masks}', '{dir:masks}', 'plain{text}']),
                ]))), CAM)
    work = tmp_path / 'w'
    records = PipelineRunner(
        steps, str(work), data_root='/data', echo=False, progress=lambda _: None).run()
    assert records['masks'].label_dir == f'{work}/masks/labels' and records['masks'].images == 1
    assert (work / 'masks' / 'labels' / 'args.txt').read_text() == '/data'
    # unknown braces stay as they are
    assert (work / 'use' / 'args.txt').read_text() == \
        f'{work}/masks/labels {work}/masks plain{{text}}'
    assert records['use'].label_dir is None and (work / 'use' / 'step.json').is_file()


@pytest.mark.parametrize('bad, match', [
    (dict(name='t', kind='tool', script='tools/nope.py'), "script 'tools/nope.py' not found"),
    (dict(name='t', kind='tool', script=CAM, args='x'), 'args must be a list'),
    (dict(name='t', kind='test', config='this', script=CAM), 'are for tool steps'),
    (dict(name='t', kind='tool', script=CAM, args=['{checkpoint}']), 'without checkpoint='),
    (dict(name='t', kind='tool', script=CAM, args=['{labels:s1}']), "'s1', which is not an "
     'earlier labels step'),
    (dict(name='t', kind='tool', script=CAM, args=['{dir:later}']), "'later', which is not"),
])
def test_bad_tool_steps_name_the_step(bad, match):
    steps = [dict(name='s1', kind='train', config='this'), bad]
    with pytest.raises(PipelineError, match=match):
        recipe_steps(Config(dict(wsss_recipe=dict(steps=steps))), CAM)


def test_dry_run_shows_every_command_and_writes_nothing(tmp_path):
    from mmwsss.apis.pipeline import PipelineRunner
    steps = recipe_steps(_cfg(bg_thr='seeds', stage2=SEG), CAM)
    work = tmp_path / 'w'
    out = PipelineRunner(steps, str(work), data_root='/tmp/mmwsss_cache/coco-mini-voc').dry_run()
    assert [s.name for s, _ in out] == [s.name for s in steps]
    cmds = {s.name: ' '.join(c) for s, c in out}
    assert '--bg-thr <bg_thr swept by seeds>' in cmds['pseudo_labels']
    assert f'{work}/stage1/<last checkpoint>' in cmds['seeds']
    assert f'--pseudo-label-dir {work}/pseudo_labels/labels' in cmds['stage2']
    assert not work.exists()


def test_swept_threshold_placeholder_and_reference_role(tmp_path):
    """``{bg_thr:seeds}`` hands the sweep's threshold to a refiner option (a refiner that
    writes the label itself does not see --bg-thr); a 'reference' test (stage 2 on
    ground truth) shows in the step table but not in the headline stage-2 column."""
    from mmwsss.apis.pipeline import PipelineRunner, steps_table
    steps = recipe_steps(
        Config(
            dict(
                wsss_recipe=dict(steps=[
                    dict(name='seeds', kind='test', config='this', role='seeds'),
                    dict(
                        name='pl',
                        kind='labels',
                        config='this',
                        cfg_options={'pseudo_label_cfg.refiners.0.bg_thr': '{bg_thr:seeds}'}),
                    dict(name='gt_val', kind='test', config=SEG, role='reference'),
                ]))), CAM)
    runner = PipelineRunner(steps, str(tmp_path / 'w'))
    runner.records['seeds'] = StepRecord('seeds', 'test', CAM, metrics=dict(mIoU=30., bg_thr=0.42))
    cmd, _ = runner.command(steps[1])
    assert 'pseudo_label_cfg.refiners.0.bg_thr=0.42' in cmd
    runner.records['seeds'].metrics.pop('bg_thr')
    with pytest.raises(PipelineError, match='step seeds reported no bg_thr'):
        runner.command(steps[1])
    recs = {
        'seeds': StepRecord('seeds', 'test', CAM, metrics=dict(mIoU=30., bg_thr=0.4), role='seeds'),
        'gt_val': StepRecord('gt_val', 'test', SEG, metrics=dict(mIoU=12.0), role='reference'),
    }
    assert summarize(recs)['stage-2 mIoU'] is None
    assert '| gt_val | test |' in steps_table(recs) and 'mIoU 12.0' in steps_table(recs)
    with pytest.raises(PipelineError, match="'pl', which is not an earlier test step"):
        recipe_steps(
            Config(
                dict(
                    wsss_recipe=dict(steps=[
                        dict(name='pl', kind='labels', config='this'),
                        dict(
                            name='t', kind='test', config='this', cfg_options={'a': '{bg_thr:pl}'})
                    ]))), CAM)


def test_label_count_ignores_the_extra_map_folders(tmp_path):
    """Confidence maps next to the labels must not double the images of img/s."""
    from mmwsss.apis.pipeline import count_labels
    for name in ('a.png', 'b.png', 'confidence/a.png', 'confidence/b.png', 'cams/a.npz'):
        (tmp_path / 'l' / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / 'l' / name).write_bytes(b'')
    assert count_labels(str(tmp_path / 'l')) == 2
    for name in ('train2014/x.png', 'val2014/y.png', 'val2014/z.png'):  # nested keys
        (tmp_path / 'n' / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / 'n' / name).write_bytes(b'')
    assert count_labels(str(tmp_path / 'n')) == 3


def test_a_training_that_writes_labels_feeds_later_steps():
    """PseudoLabelHook writes the labels at the end of stage 1: the train step's
    label_out makes it a label source for label_eval / stage 2."""
    steps = recipe_steps(
        Config(
            dict(
                wsss_recipe=dict(steps=[
                    dict(
                        name='stage1', kind='train', config='this',
                        label_out='{out}/pseudo_labels'),
                    dict(name='label_eval', kind='eval_labels', config='this', labels='stage1'),
                    dict(name='stage2', kind='train', config=SEG, labels='stage1'),
                ]))), CAM)
    assert steps[0].label_out == '{out}/pseudo_labels'
    with pytest.raises(PipelineError, match='label_out is for tool and train'):
        recipe_steps(
            Config(
                dict(
                    wsss_recipe=dict(
                        steps=[dict(name='t', kind='test', config='this', label_out='x')]))), CAM)
    from mmwsss.apis.pipeline import PipelineRunner
    with pytest.raises(PipelineError, match='writes labels while it trains'):
        PipelineRunner(steps, '/nonexistent', reuse={'stage1': CAM})


def _log(path, lines):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(f'{t} - mmengine - INFO - {msg}\n' for t, msg in lines))


def test_reused_checkpoint_takes_its_training_time_from_the_logs(tmp_path):
    """A run started from scratch (an abandoned first try), then trained 0-20 and resumed
    20-30: the checkpoint's time is the last two logs' spans (first line to last
    train iteration), not the abandoned one; iter_20.pth counts up to iteration 20."""
    from mmwsss.apis.pipeline import logged_train_seconds
    work = tmp_path / 'w'
    _log(work / 'a' / 'a.log', [('2026/12/01 10:00:00', 'start'),
                                ('2026/12/01 10:00:30', 'Iter(train) [ 10/30]  lr: 1'),
                                ('2026/12/01 10:01:00', 'Iter(train) [ 20/30]  lr: 1')])
    _log(work / 'b' / 'b.log', [('2026/12/01 11:00:00', 'start'),
                                ('2026/12/01 11:00:10', 'Iter(train) [ 10/30]  lr: 1'),
                                ('2026/12/01 11:00:40', 'Iter(train) [ 20/30]  lr: 1'),
                                ('2026/12/01 11:00:50', 'Saving checkpoint')])
    _log(work / 'c' / 'c.log', [('2026/12/01 12:00:00', 'resume'),
                                ('2026/12/01 12:00:05', 'Iter(train) [ 30/30]  lr: 1'),
                                ('2026/12/01 12:09:00', 'Saving checkpoint')])
    assert logged_train_seconds(str(work / 'iter_30.pth')) == 40.0 + 5.0
    assert logged_train_seconds(str(work / 'iter_20.pth')) == 40.0
    assert logged_train_seconds(str(tmp_path / 'nolog' / 'iter_5.pth')) is None


def test_curve_option_finds_the_cam_metric_in_a_list_of_evaluators(tmp_path):
    """A seeds config with two evaluators (PBIP's own metric + the sweep) must get the
    curve file on its CAMMetric by index: a plain test_evaluator.out_file on a list
    fails in mmengine (list indices must be integers)."""
    from mmwsss.apis.pipeline import cam_metric_option
    for evaluator, key in [(dict(type='mmwsss.CAMMetric'), 'test_evaluator.out_file'),
                           ([dict(type='IoUMetric'),
                             dict(type='CAMMetric')], 'test_evaluator.1.out_file'),
                           (dict(type='IoUMetric'), None)]:
        path = tmp_path / 'c.py'
        path.write_text(f'test_evaluator = {evaluator!r}\n')
        assert cam_metric_option(str(path)) == key
        if key:
            cfg = Config.fromfile(str(path))
            cfg.merge_from_dict({key: 'curve.json'})
            assert 'curve.json' in repr(cfg.test_evaluator)


def test_run_wide_cfg_options_reach_every_tool_step_but_scripts(tmp_path):
    from mmwsss.apis.pipeline import PipelineRunner
    steps = recipe_steps(
        Config(
            dict(
                wsss_recipe=dict(steps=[
                    dict(
                        name='seeds',
                        kind='test',
                        config='this',
                        cfg_options={'model.test_cfg.flip': False}),
                    dict(name='pl', kind='labels', config='this'),
                    dict(name='t', kind='tool', script=CAM, args=['{out}']),
                    dict(name='ev', kind='eval_labels', config='this', labels='pl'),
                ]))), CAM)
    runner = PipelineRunner(
        steps,
        str(tmp_path / 'w'),
        data_root='/tmp/mmwsss_cache/coco-mini-voc',
        cfg_options=['model.clip_checkpoint=None'])
    cmds = {s.name: c for s, c in runner.dry_run()}
    seeds = cmds['seeds'][cmds['seeds'].index('--cfg-options') + 1:]
    assert seeds[:2] == ['model.test_cfg.flip=False', 'model.clip_checkpoint=None']
    assert 'model.clip_checkpoint=None' in cmds['pl'] and cmds['pl'].count('--cfg-options') == 1
    assert not any('clip_checkpoint' in a for a in cmds['t'] + cmds['ev'])
    with pytest.raises(PipelineError, match='expected KEY=VALUE'):
        PipelineRunner(steps, str(tmp_path / 'w'), cfg_options=['oops'])


def test_dry_run_without_the_data_says_what_label_eval_lacks(tmp_path):
    from mmwsss.apis.pipeline import PipelineRunner
    steps = recipe_steps(_cfg(bg_thr='seeds'), CAM)
    out = PipelineRunner(steps, str(tmp_path / 'w'), data_root=str(tmp_path / 'none')).dry_run()
    cmds = {s.name: ' '.join(c) for s, c in out}
    assert cmds['label_eval'].startswith('(cannot list its images yet:')
    assert str(tmp_path / 'none') in cmds['label_eval']
