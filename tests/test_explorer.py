"""The run-store explorer (memlib.explorer) on real runs of a tiny model, driven as a person would
drive its widgets. The browser test (tests/test_browser.py) checks the same in JupyterLab."""
import json
import math

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_hex

import memlib
from memlib import Stage, explorer as X, extraction
from memlib.probes import ProbeSpec


@pytest.fixture(scope="module")
def store(tiny_llama, tmp_path_factory):
    """Four runs as notebooks would leave them: two of "01_dynamics" (one shared with "02_x"), a
    schedule of "04_seq" measured every other epoch, and a probed run of "03_probes"."""
    root = tmp_path_factory.mktemp("explorer-store")
    a = memlib.random_strings(3, 4, 12, seed=0)
    b = memlib.random_strings(2, 7, 12, seed=1)
    s01 = memlib.RunStore(root, notebook="01_dynamics")
    memlib.expose(tiny_llama, a[:1], test_strings=a[1:], epochs=6, lr=3e-3, seed=0, eval_every=[0, 3], store=s01,
                  progress=False)
    memlib.expose(tiny_llama, b[:1], test_strings=b[1:], epochs=4, lr=3e-3, seed=1, store=s01, progress=False)
    shared = memlib.RunStore(root, notebook="02_x")  # loads the first run again: now used by both
    memlib.expose(tiny_llama, a[:1], test_strings=a[1:], epochs=6, lr=3e-3, seed=0, eval_every=[0, 3], store=shared,
                  progress=False)
    memlib.expose_schedule(tiny_llama, [Stage(a[0], epochs=3), Stage(a[1], epochs=3)], test_strings=a[2:], lr=3e-3,
                           seed=2, eval_every=2, store=memlib.RunStore(root, notebook="04_seq"), progress=False)
    memlib.expose(tiny_llama, b[:1], test_strings=b[1:], epochs=5, lr=3e-3, seed=3,
                  probes=ProbeSpec(at=(2, "last"), ks=(0, 2, 12), replace=(), shifts=()),
                  store=memlib.RunStore(root, notebook="03_probes"), progress=False)
    return memlib.RunStore(root)


def _luminance(hex_colour):
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_store_records_which_notebook_used_which_run(store):
    assert store.notebooks() == ["01_dynamics", "02_x", "03_probes", "04_seq"]
    assert len(store.notebook_keys("01_dynamics")) == 2 and len(store.notebook_keys("02_x")) == 1
    assert store.notebook_keys("02_x")[0] == store.notebook_keys("01_dynamics")[0]
    assert store.notebook_keys("nothing") == []
    table = X.catalogue(store)
    assert list(table.columns) == list(X.CATALOGUE_COLUMNS) and len(table) == 4
    assert sorted(table.notebooks) == ["01_dynamics", "01_dynamics, 02_x", "03_probes", "04_seq"]
    assert sorted(table.kind) == ["expose", "expose", "expose", "schedule"]
    assert sorted(table.alphabet_size) == [4, 4, 7, 7] and table.probes.sum() == 1
    for bad in ("", "../x", "a b", 3):
        with pytest.raises(ValueError, match="notebook=.* is not allowed"):
            memlib.RunStore(store.root, notebook=bad)


def test_colours_follow_p_true_and_wrong_predictions_are_marked(store):
    key = X.filter_runs(X.catalogue(store), notebook="02_x").key.iloc[0]
    run = store.load(key)
    for epoch in (0, 3, 6):
        view = X.character_view(run, epoch)
        p = run.arrays["train_p_true"][epoch, 0].astype(float)
        assert np.allclose(view.p_true, p) and (view.correct == run.arrays["train_correct"][epoch, 0]).all()
        assert list(view.colour) == [to_hex(colormaps[X.CMAP](x)) for x in p]
        lum = np.array([_luminance(c) for c in view.colour])
        order = np.argsort(p)
        assert (np.diff(lum[order]) >= -1e-9).all()  # a likelier true character is drawn brighter
        html = X.string_html(view)
        assert html.count('data-position=') == len(view)
        assert html.count("memlib-wrong") == int((~view.correct).sum())
        assert [float(x) for x in __import__("re").findall(r'data-p="([0-9.]+)"', html)] == pytest.approx(p, abs=1e-4)
    assert not X.character_view(run, 6).colour.equals(X.character_view(run, 0).colour)
    # held-out strings were measured at epochs 0, 3, 6: at 5 the view shows epoch 3's measurement
    held = X.character_view(run, 5, "test")
    assert set(held.measured_epoch) == {3} and np.allclose(held[held.string == 0].p_true, run.arrays["test_p_true"][1, 0])
    for bad in (-1, 7, 2.0, True):
        with pytest.raises(ValueError, match="epoch=.* is not allowed: this run has epochs 0 to 6"):
            X.character_view(run, bad)
    with pytest.raises(ValueError, match="split='valid' is not allowed"):
        X.character_view(run, 0, "valid")


def test_the_marked_epoch_follows_the_slider(store):
    e = X.Explorer(store, notebook="02_x")
    run = e.current
    assert e.epoch.max == 6 and e.epoch.value == X.default_epoch(run)
    seen = set()
    for epoch in (0, 4, 6):
        before = e.image.value
        e.epoch.value = epoch
        assert f'<span class="memlib-epoch">epoch {epoch}</span> of 6' in e.header.value
        assert e.strings.value == X.string_html(X.character_view(run, epoch), epoch)
        assert f'data-key="{run.key}"' in e.header.value
        fig, markers = e.figures[run.key]
        assert len(markers) == 4 and all(list(m.get_xdata()) == [epoch, epoch] for m in markers)
        assert e.image.value != before and e.image.value[:4] == b"\x89PNG"
        assert f'data-epoch="{epoch}"' in e.caption.value
        seen.add(e.strings.value)
    assert len(seen) == 3
    e.split.value = "test"
    assert "held-out 1" in e.strings.value and "as of epoch" not in e.strings.value  # measured at the last epoch
    e.epoch.value = 5
    assert "held-out strings as measured at epoch 3" in e.header.value and "(as of epoch 3)" in e.strings.value
    e.seed.value = 0  # a filter change that keeps the run keeps the epoch
    assert e.current.key == run.key and e.epoch.value == 5


def test_filters_narrow_the_run_list(store):
    e = X.Explorer(store)
    assert len(e.run.options) == 4 and "4 of 4 runs match" in e.count.value
    e.alphabet_size.value = 7
    assert len(e.run.options) == 2
    e.seed.value = 3
    assert len(e.run.options) == 1 and e.current.config.seed == 3 and "probes" in e.run.label
    assert [v for _, v in e.seed.options] == [X.ANY, 1, 3]  # each filter offers what the others leave
    e.seed.value = X.ANY
    e.alphabet_size.value = X.ANY
    assert [v for _, v in e.seed.options] == [X.ANY, 0, 1, 2, 3]
    e.notebook.value = "01_dynamics"
    assert sorted(k for _, k in e.run.options) == sorted(store.notebook_keys("01_dynamics"))
    assert [v for _, v in e.seed.options] == [X.ANY, 0, 1]
    seven = max(v for _, v in e.entropy.options if v != X.ANY)  # the 7-letter strings' entropy
    e.entropy.value = seven
    assert len(e.run.options) == 1 and e.current.config.seed == 1
    e.notebook.value = "04_seq"  # no 7-letter run there: the entropy falls back to any
    assert e.entropy.value == X.ANY and len(e.run.options) == 1 and e.current.config.kind == "schedule"


def test_schedules_show_their_stage_and_each_strings_latest_measurement_and_probes_their_panel(store):
    e = X.Explorer(store, notebook="04_seq", epoch=1)
    run = e.current
    assert "stage 1 of 2 (training S1; epochs 0-3)" in e.header.value
    view = X.character_view(run, 1)  # S2 is measured at 0 (the start) and every 2 epochs, S1 every epoch
    assert set(view[view.string == 0].measured_epoch) == {1} and set(view[view.string == 1].measured_epoch) == {0}
    assert np.allclose(view[view.string == 1].p_true, run.arrays["train_p_true"][0, 1])
    assert "(as of epoch 0)" in e.strings.value
    e.epoch.value = 3
    assert "end of stage 1 of 2 (training S1; epochs 0-3), start of stage 2" in e.header.value
    at3 = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == 3) & run.metrics.trained]
    assert sorted(at3.string) == [0, 1]  # both strings count as trained at the boundary: named one by one
    acc = dict(zip(at3.string, at3.accuracy))
    assert f"accuracy S1 {acc[0]:.2f}, S2 {acc[1]:.2f}" in e.header.value
    e.epoch.value = 5
    assert "stage 2 of 2 (training S2; epochs 3-6)" in e.header.value
    view = X.character_view(run, 5)
    assert set(view[view.string == 0].measured_epoch) == {4} and set(view[view.string == 1].measured_epoch) == {5}
    trained = run.metrics[(run.metrics.split == "train") & (run.metrics.epoch == 5) & run.metrics.trained]
    assert f"accuracy S2 {trained.accuracy.mean():.2f}" in e.header.value
    e.split.value = "test"  # the header speaks of the strings shown
    held = run.metrics[(run.metrics.split == "test") & (run.metrics.epoch == 4)]
    assert f"held-out accuracy {held.accuracy.mean():.2f}" in e.header.value and "mean of 1" in e.header.value
    p = X.Explorer(store, notebook="03_probes")
    fig = p.figure()
    assert len(fig.axes) == 6 and "probes" in fig.axes[-1].get_title()  # strings, 4 curves, probes
    fig.savefig(store.root / "probe.png")


def test_a_static_figure_of_the_chosen_run_and_epoch(store):
    e = X.Explorer(store, notebook="01_dynamics", seed=1, epoch=2)
    fig = e.figure()
    marks = [ln for ax in fig.axes for ln in ax.lines if ln.get_label() == "this epoch"]
    assert len(marks) == 4 and all(list(m.get_xdata()) == [2, 2] for m in marks)
    assert "epoch 2" in fig.get_suptitle()
    fig.savefig(store.root / "static.png")
    assert (store.root / "static.png").stat().st_size > 10_000
    from matplotlib.colors import to_rgba

    strings = [ln for ax in fig.axes for ln in ax.lines if ln.get_label() == "trained string"]
    assert strings and all(to_rgba(m.get_color()) != to_rgba(ln.get_color()) for m in marks for ln in strings)
    assert all(to_rgba(m.get_color()) != to_rgba(X.WRONG) for m in marks)  # not tab10's red, the colour of S4
    img = X.image(fig)
    assert img.format == "png" and img.data[:8] == b"\x89PNG\r\n\x1a\n"  # shown inline as an image


def test_held_out_curves_are_drawn_where_measured(store):
    run = X.Explorer(store, notebook="01_dynamics", seed=0).current  # held-out strings at epochs 0, 3, 6
    fig = X.figure(run, 2, strings=False)
    held = [ln for ln in fig.axes[0].lines if ln.get_label().startswith("held-out")][0]
    x = np.asarray(held.get_xdata(), dtype=float)
    assert list(x[np.isfinite(x)]) == [0, 3, 6] and np.isnan(x).sum() == 2  # points, not a line across the gaps


def test_a_run_of_many_strings_draws_their_mean(tiny_llama, tmp_path):
    import memlib
    from memlib import sweep

    train, test = sweep.split_strings(0, alphabet_size=4, length=8, n_train=12, n_test=2)
    run = memlib.expose(tiny_llama, train, test_strings=test, epochs=2, store=False, progress=False)
    fig = X.figure(run, 1, strings=False)
    labels = {ln.get_label() for ax in fig.axes for ln in ax.lines}
    assert "trained strings (mean of 12)" in labels and not any(lab.startswith("S1") for lab in labels)


def test_bad_choices_are_refused_and_preferences_fall_back(store):
    with pytest.raises(ValueError, match=r"model='gpt-2' is not allowed: this store's runs have model in \['tiny-llama'\]"):
        X.Explorer(store, model="gpt-2")
    with pytest.raises(ValueError, match="notebook='05_x' is not allowed"):
        X.Explorer(store, notebook="05_x")
    with pytest.raises(ValueError, match="run='ffff' is not allowed"):
        X.Explorer(store, run="ffff")
    with pytest.raises(ValueError, match="epoch=99 is not allowed: the chosen run has epochs 0 to"):
        X.Explorer(store, epoch=99)
    with pytest.raises(ValueError, match="prefer has 'lr'"):
        X.Explorer(store, prefer={"lr": 1e-3})
    with pytest.raises(ValueError, match=r"seed=3 is not allowed with \{'notebook': '01_dynamics'\}"):
        X.Explorer(store, notebook="01_dynamics", seed=3)
    e = X.Explorer(store, prefer={"notebook": "05_missing", "seed": 1})
    assert e.notebook.value == X.ANY and e.seed.value == 1 and e.current.config.seed == 1
    key = store.notebook_keys("04_seq")[0]
    assert X.Explorer(store, run=key[:10]).current.key == key
    # a run given overrides the preferences (which would filter it out)
    assert X.Explorer(store, run=key[:10], prefer={"notebook": "01_dynamics", "seed": 0}).current.key == key
    e = X.Explorer(store, entropy=math.log2(7))  # compared to 2 decimals, as the catalogue lists it
    assert all(r.alphabet_size == 7 for r in e.filtered().itertuples())


def test_an_empty_store_says_how_to_fill_it(tmp_path):
    e = X.Explorer(memlib.RunStore(tmp_path / "empty"))
    assert e.empty and "has no runs yet" in e.message.value and "make reproduce" in e.message.value
    assert "--preset smoke" in e.message.value and str(tmp_path / "empty") in e.message.value
    assert e.widget.children == (e.message,)
    assert X.catalogue(memlib.RunStore(tmp_path / "empty")).empty
    assert not (tmp_path / "empty").exists()  # looking writes nothing


def test_a_damaged_run_is_left_out_of_the_catalogue_and_not_loaded(store, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(store.root, root)
    copy = memlib.RunStore(root)
    key = copy.notebook_keys("04_seq")[0]
    (copy.path(key) / "config.json").write_text("{not json")
    assert key not in set(X.catalogue(copy).key) and len(X.catalogue(copy)) == 3
    other = copy.notebook_keys("03_probes")[0]
    (copy.path(other) / "metrics.csv").write_text("epoch\n0\n")  # listed (config intact), refused on load
    e = X.Explorer(copy, notebook="03_probes")
    with pytest.warns(UserWarning, match="damaged"):
        assert e.current is None
    assert "damaged" in e.message.value
    json.loads((copy.path(other) / "config.json").read_text())


def test_a_run_without_held_out_strings_and_a_read_only_store(store, tiny_llama, tmp_path):
    import shutil

    root = tmp_path / "ro"
    shutil.copytree(store.root, root)
    s = memlib.random_strings(1, 4, 12, seed=5)
    memlib.expose(tiny_llama, s, epochs=2, lr=3e-3, store=memlib.RunStore(root, notebook="01_dynamics"),
                  progress=False)
    e = X.Explorer(memlib.RunStore(root), seed=0, alphabet_size=4, notebook="01_dynamics", model="tiny-llama",
                   entropy=2.0)
    e.run.value = next(k for _, k in e.run.options if not X.character_view(memlib.RunStore(root).load(k), 0, "test").size)
    e.split.value = "test"
    assert "this run has no held-out strings" in e.header.value and "no such strings" in e.strings.value
    fig = e.figure()  # curves only: nothing to draw as strings
    assert len(fig.axes) == 4
    # a store whose index folder cannot be created (a file stands in its place: as root, permissions
    # would not stop a write) still loads its runs, with one warning
    (root / "notebooks" / "02_x.txt").unlink(missing_ok=True)
    shutil.move(root / "notebooks", tmp_path / "index")
    (root / "notebooks").write_text("not a folder")
    ro = memlib.RunStore(root, notebook="02_x")
    key = memlib.RunStore(root).keys()[0]
    with pytest.warns(UserWarning, match="cannot record 02_x's runs"):
        assert ro.load(key) is not None
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    with pytest.raises(ValueError, match="cannot be written"):
        memlib.RunStore(blocked).check_writable()


def test_a_run_of_another_length_gets_a_slider_drawn_for_its_epochs(store):
    e = X.Explorer(store)
    lasts = {}
    for key in e.table.key:
        lasts.setdefault(int(X.epochs_of(store.load(key)).max()), key)
    assert len(lasts) >= 2, lasts  # the fixture store has runs of different lengths
    (a, key_a), (b, key_b) = sorted(lasts.items())[:2]
    e.run.value = key_a
    first = e.epoch
    assert e.epoch.max == a and e.play.max == a
    e.run.value = key_b
    # a new slider (the browser keeps the first range for its End key), in the box, linked to play, rendering
    assert e.epoch is not first and e.epoch.max == b and e.play.max == b and e.epoch_box.children[1] is e.epoch
    e.epoch.value = b
    assert f'data-epoch="{b}"' in e.caption.value


def test_a_filter_change_that_empties_the_others_resets_them_and_says_so(store):
    e = X.Explorer(store)
    e.alphabet_size.value = 7
    e.seed.value = 3  # the probed run of 03_probes
    e.notebook.value = "01_dynamics"  # no 7-letter run of seed 3 there: the seed is reset, the alphabet kept
    assert e.seed.value == X.ANY and e.alphabet_size.value == 7 and e.current.config.seed == 1
    assert "seed 3 reset to any: no run has it with notebook 01_dynamics" in e.count.value
    # every filter offers what matches the others again (not only "any")
    assert [v for _, v in e.seed.options] == [X.ANY, 1] and [v for _, v in e.model.options] == [X.ANY, "tiny-llama"]
    e.seed.value = 1
    assert "reset" not in e.count.value  # the note is shown once, for the change that made it


def test_the_opening_views_filters_are_cleared_with_the_notebook(store):
    e = X.Explorer(store, prefer=dict(notebook="01_dynamics", seed=1))
    assert e.notebook.value == "01_dynamics" and e.seed.value == 1 and len(e.run.options) == 1
    e.notebook.value = "04_seq"
    assert e.seed.value == X.ANY and "seed (the opening view's choice) cleared" in e.count.value
    assert e.current.config.kind == "schedule"
    e.seed.value = 2  # chosen by the user: kept through the next notebook change where runs have it
    e.notebook.value = X.ANY
    assert e.seed.value == 2 and "cleared" not in e.count.value


def test_the_legend_says_what_every_mark_of_a_schedule_is(store):
    run = X.Explorer(store, notebook="04_seq").current
    labels = [t.get_text() for t in X.figure(run, 2, strings=False).legends[0].get_texts()]
    for mark in ("stage boundary", "thick: while the string is trained", "thin: while it is not", "this epoch"):
        assert mark in labels, labels


def test_two_runs_side_by_side_name_their_difference(store):
    e = X.Explorer(store, notebook="01_dynamics", seed=0, epoch=2)
    a = e.current
    b_key = next(k for k in store.notebook_keys("01_dynamics") if k != a.key)  # seed 1: 7 letters, 4 epochs
    b = store.load(b_key)
    diff = X.differences(a, b)
    assert "alphabet 4 / 7" in diff and "seed 0 / 1" in diff and "run 6 epochs / 4 epochs" in diff
    assert X.differences(a, a) == ["nothing: the same configuration"]
    e.compare.value = b_key
    assert f'class="memlib-compare" data-key="{b_key}"' in e.header.value and "seed 0 / 1" in e.header.value
    assert 'class="memlib-run-a"' in e.strings.value and 'class="memlib-run-b"' in e.strings.value
    e.epoch.value = 6  # beyond B's last epoch: B shown at its own end, and said so
    assert "at epoch 4" in e.header.value
    fig = X.compare_figure(a, b, 6)
    labels = {ln.get_label() for ln in fig.axes[0].lines}
    assert {"A: tiny-llama (trained)", "B: tiny-llama (trained)", "B's last epoch", "this epoch"} <= labels
    assert "alphabet 4 / 7" in fig.get_suptitle()
    e.compare.value = ""  # back to one run
    assert "memlib-compare" not in e.header.value and "memlib-run-b" not in e.strings.value


def test_extraction_probes_show_in_the_per_character_view(tiny_llama, tmp_path):
    import memlib

    a = memlib.random_strings(3, 4, 12, seed=5)
    run = memlib.expose(tiny_llama, a[:1], test_strings=a[1:], epochs=20, lr=3e-3, eval_every=[0, 10, 20],
                        probes=extraction.extraction_spec(12, [10, 20]), store=False, progress=False)
    assert X.extraction_view(run, 9) is None  # before the first probed epoch
    ext = X.extraction_view(run, 15)
    assert set(ext.probed_epoch) == {10} and list(ext.position) == list(range(8, 12))
    table = extraction.extraction_table([run], k=8, n=2)
    assert ext.run_length.mean() == pytest.approx(table[table.epoch == 10].prefix_mean.iloc[0])
    html_ = X.string_html(X.character_view(run, 15), 15, ext)
    assert html_.count("memlib-extracted") == int(ext.from_prompt.sum())
    assert f"{int(ext.from_prompt.sum())} of 4 positions (probed at epoch 10)" in html_
    assert X.extraction_view(memlib.expose(tiny_llama, a[:1], epochs=2, store=False, progress=False), 2) is None


def _agrees(e) -> None:
    """What a view must always show together: the filters' values, the run list they leave, the count, the run
    chosen and the run drawn in the header."""
    rows = e.filtered()
    assert [k for _, k in e.run.options] == list(rows.key)
    assert e.run.value in set(rows.key) and e.current.key == e.run.value
    assert f"{len(rows)} of {len(e.table)} runs match" in e.count.value and f"run={e.run.value}'" in e.count.value
    assert f'data-key="{e.run.value}"' in e.header.value
    for f in X.FILTERS:
        assert f"{f}={'any' if e.filter_value(f) is None else e.filter_value(f)}" in e.count.value


def test_a_late_choice_from_the_browser_is_dropped_and_the_view_stays_consistent(store):
    """A browser names a dropdown choice by its index among the options it drew. Under load the kernel may have
    changed those options meanwhile: a dropdown whose options change is a new widget, and a message for the old one
    (here sent as the browser would, with set_state) is dropped, instead of being read as another value."""
    e = X.Explorer(store)
    old_seed, old_options = e.seed, list(e.seed.options)
    assert [v for _, v in old_options] == [X.ANY, 0, 1, 2, 3]
    e.notebook.value = "04_seq"  # the seed dropdown now offers seed 2 only: a new widget
    assert e.seed is not old_seed and [v for _, v in e.seed.options] == [X.ANY, 2]
    _agrees(e)
    before = (e.seed.value, e.run.value, e.count.value)
    old_seed.set_state({"index": 1})  # the browser's late pick of seed 0, in the old options (index 1 is seed 2 now)
    assert (e.seed.value, e.run.value, e.count.value) == before
    _agrees(e)
    # a run dropdown emptied by a message (index None) is refilled from the filters, not left blank
    e.notebook.value = X.ANY
    e.run.set_state({"index": None})
    _agrees(e)
    # many changes in a row, in any order: the view agrees after each
    for name, value in (("alphabet_size", 7), ("seed", 3), ("notebook", "01_dynamics"), ("seed", X.ANY),
                        ("entropy", max(v for _, v in e.entropy.options if v != X.ANY)), ("notebook", "04_seq")):
        getattr(e, name).value = value
        _agrees(e)
