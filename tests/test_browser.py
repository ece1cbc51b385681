"""Notebook 00 in a real browser: JupyterLab on a local port over a store filled by the smoke
preset, opened in headless Chromium (Debian's ``chromium``, driven by Playwright), all cells run,
the epoch slider moved, and the page checked against the stored run.

Needs a Chromium executable: ``$MEMLIB_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on
PATH (``apt-get install -y chromium``). Without one the test is skipped, saying so, unless
``MEMLIB_BROWSER_TEST=require`` (set by ``.ci/run``), which turns the skip into a failure.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from memlib import explorer as X
from memlib.notebooks import ROOT, notebook_paths

REQUIRED = os.environ.get("MEMLIB_BROWSER_TEST") == "require"
HOW = ("install Debian's chromium (apt-get install -y chromium) or point MEMLIB_CHROMIUM at a Chromium "
       "executable; playwright comes with `make .venv`")


def _chromium() -> str | None:
    path = os.environ.get("MEMLIB_CHROMIUM")
    if path:
        return path if os.access(path, os.X_OK) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium():
    """The Chromium executable, checked before anything is set up; skip (or fail) without one."""
    missing = []
    browser = _chromium()
    if browser is None:
        missing.append("no Chromium executable")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright is not installed")
    if missing:
        message = f"browser test not run ({', '.join(missing)}): {HOW}"
        if REQUIRED:
            pytest.fail(message + " [MEMLIB_BROWSER_TEST=require]")
        pytest.skip(message)
    return browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(chromium, smoke_notebooks, tmp_path):
    """JupyterLab serving a copy of notebook 00 (so that autosave never touches the repository)
    with MEMLIB_CACHE set to the smoke store; yields (url, store)."""
    store = smoke_notebooks.execute_all()
    work = tmp_path / "lab"
    work.mkdir()
    shutil.copy(next(p for p in notebook_paths() if p.name.startswith("00_")), work / "00_explorer.ipynb")
    port, token = _free_port(), "memlib-browser-test"
    env = {**os.environ, "MEMLIB_CACHE": str(store.root), "HF_HUB_OFFLINE": "1", "MEMLIB_PROGRESS": "0",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", "--allow-root", f"--ServerApp.root_dir={work}", "--ServerApp.open_browser=False",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # generous: only a hang should fail
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"{base}/lab/tree/00_explorer.ipynb?token={token}", store
    finally:
        for sig, wait in ((15, 20), (9, 5)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        _kill_kernels(tmp_path / "runtime")  # kernels run in sessions of their own: never leave one behind
        log.close()


def _kill_kernels(runtime) -> None:
    """SIGKILL every process whose command line names ``runtime`` (a kernel's connection file lives there)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:  # no /proc (not Linux): nothing to look through
        return
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(runtime).encode() in f.read():
                    os.kill(int(pid), 9)
        except (OSError, ProcessLookupError):
            pass


def _wait_kernel_idle(url: str, timeout: float = 300) -> None:
    """Until the server has a session whose kernel is idle (started and connected)."""
    import json

    base, token = url.split("/lab/")[0], url.split("token=")[1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=5) as r:
            if any(s["kernel"] and s["kernel"]["execution_state"] == "idle" for s in json.load(r)):
                return
        time.sleep(0.5)
    pytest.fail("the notebook's kernel did not start")


def _page_state(page) -> dict:
    """What the page shows: the epoch, the shown run's key, every character's colour, probability and
    mark (all strings, in order), and a checksum of the curves image's bytes."""
    return page.evaluate("""async () => {
        const epoch = document.querySelector('.memlib-epoch');
        const chars = [...document.querySelectorAll('.memlib-string .memlib-char')];
        const img = document.querySelector('.widget-image');
        let image = null;
        if (img && img.src) {
            const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
            let h = 0;
            for (const b of bytes) h = (h * 31 + b) >>> 0;
            image = bytes.length + ':' + h;
        }
        return {epoch: epoch ? epoch.textContent : null,
                key: document.querySelector('.memlib-header').dataset.key,
                colours: chars.map(c => c.style.backgroundColor),
                p: chars.map(c => c.dataset.p),
                wrong: chars.map(c => c.classList.contains('memlib-wrong')),
                image: image};
    }""")


def _rgb(hex_colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)))


def _a_filter_a_notebook_lacks(table):
    """(filter, value, notebook): a value of model, alphabet size or seed that some runs have and none of the
    notebook's (a notebook with runs), the first such in the filters' order."""
    notebooks = sorted({n for s in table.notebooks for n in s.split(", ") if n})
    for name in ("model", "alphabet_size", "seed"):
        for value in sorted(set(table[name])):
            for notebook in notebooks:
                runs = X.filter_runs(table, notebook=notebook)
                if len(runs) and value not in set(runs[name]):
                    return name, value, notebook
    raise AssertionError("every notebook's runs have every model, alphabet size and seed: nothing to reset")


_DOM = """() => {
    const sel = [...document.querySelectorAll('.widget-dropdown select')];
    const count = document.querySelector('.memlib-count');
    const header = document.querySelector('.memlib-header');
    const text = o => o.text.replace(/\u00a0/g, ' ');  // option labels are drawn with non-breaking spaces
    return {selected: sel.map(s => s.selectedIndex >= 0 ? text(s.options[s.selectedIndex]) : null),
            runs: sel.length > 5 ? [...sel[5].options].map(text) : [],
            state: count ? count.dataset.state : null, count: count ? count.textContent : null,
            key: header ? header.dataset.key : null};
}"""


def _state(page) -> dict:
    """The explorer's choices as it last sent them (the count's ``data-state``: filter=value|...|run=key)."""
    raw = page.evaluate("() => { const c = document.querySelector('.memlib-count'); return c ? c.dataset.state : ''; }")
    return dict(kv.split("=", 1) for kv in raw.split("|")) if raw else {}


def _choose(page, index: int, label: str, name: str, value) -> None:
    """Pick ``label`` in the ``index``-th dropdown and wait until the explorer has taken it (``name``'s value in its
    state), as a person waits to see a choice take before the next: under load the kernel answers late, and a
    dropdown whose options changed meanwhile is a new widget (a choice made in the old one is dropped)."""
    page.locator(".widget-dropdown select").nth(index).select_option(label=label)
    page.wait_for_function(f"""() => {{ const c = document.querySelector('.memlib-count');
        return c && c.dataset.state.split('|').includes('{name}={value}'); }}""")


def _settle(page, url: str) -> dict:
    """Wait until the kernel is idle and the page's state has not changed for 2 s; returns what the page shows."""
    before = None
    for _ in range(300):
        _wait_kernel_idle(url)
        now = page.evaluate(_DOM)
        if now == before:
            return now
        before = now
        time.sleep(2)
    pytest.fail("the explorer never settled")


def _check_consistent(dom: dict, table) -> None:
    """The dropdowns, the count, the run list and the run shown agree with each other and with the catalogue."""
    notebook, model, alphabet, entropy, seed, run = dom["selected"][:6]
    state = dict(kv.split("=", 1) for kv in dom["state"].split("|"))
    shown = {"notebook": "any" if notebook == "all runs" else notebook, "model": model, "alphabet_size": alphabet,
             "entropy": entropy, "seed": seed}
    for name, label in shown.items():  # what each dropdown shows is what the explorer holds
        held = state[name]
        assert label == held or (name == "entropy" and held != "any" and label == f"{float(held):g}"), (name, dom)
    filters = {n: None if v == "any" else (int(v) if n in ("alphabet_size", "seed") else
                                           float(v) if n == "entropy" else v) for n, v in state.items() if n in shown}
    expected = X.filter_runs(table, **filters)
    assert dom["runs"] == list(expected.label), dom  # the run list is the filtered runs
    if len(expected):
        assert f"{len(expected)} of {len(table)} runs match" in dom["count"], dom
        key = dict(zip(table.label, table.key))[run]
        assert state["run"] == key == dom["key"], dom  # the run chosen is the run shown
    else:
        assert "no run matches" in dom["count"], dom


def _pick_at_once(page, picks) -> None:
    """Several dropdown changes in one go, without waiting for the kernel between them (each a real change event)."""
    page.evaluate("""(picks) => {
        for (const [i, text] of picks) {
            const s = [...document.querySelectorAll('.widget-dropdown select')][i];
            const o = s && [...s.options].find(o => o.text.replace(/\u00a0/g, ' ') === text);
            if (o) { s.selectedIndex = o.index; s.dispatchEvent(new Event('change', {bubbles: true})); }
        }
    }""", picks)


def _busy_cores() -> list:
    """A process spinning on every core: the explorer must stay consistent on a loaded machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]


def test_explorer_in_jupyterlab_follows_the_epoch_slider(chromium, lab):
    from playwright.sync_api import sync_playwright

    url, store = lab
    shots = ROOT / "build" / "browser"
    shots.mkdir(parents=True, exist_ok=True)
    spinners = _busy_cores()  # for the whole test: every core busy beside JupyterLab, its kernel and the browser
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.set_default_timeout(300_000)
            page.goto(url)
            page.locator(".jp-Notebook").first.wait_for()
            _wait_kernel_idle(url)
            for _ in range(3):  # JupyterLab may still ask which kernel to use (a race with the session it opens)
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name=re.compile("^Run All Cells")).click()
                page.wait_for_selector(".memlib-epoch, .jp-Dialog .jp-mod-accept")
                if not page.locator(".jp-Dialog .jp-mod-accept").count():
                    break
                page.locator(".jp-Dialog .jp-mod-accept").first.click()
                _wait_kernel_idle(url)
            page.locator(".memlib-epoch").wait_for()
            page.locator(".widget-image").wait_for()
            # the static figure cell shows its figure inline (an image output, not the figure's repr)
            page.locator(".jp-RenderedImage img").first.wait_for()
            assert not page.get_by_text(re.compile(r"<Figure size")).count()
            before = _page_state(page)
            epoch = int(before["epoch"].split()[1])
            # the view opens on notebook 01's first SmolLM2-135M run of seed 0 (the preset's choice)
            chosen = X.filter_runs(X.catalogue(store), notebook="01_dynamics", model="smollm2-135m", seed=0)
            assert before["key"] == chosen.key.iloc[0]
            run = store.load(before["key"])
            assert epoch == X.default_epoch(run)
            view = X.character_view(run, epoch)
            assert before["colours"] == [_rgb(c) for c in view.colour] and len(view) == len(before["p"])
            page.screenshot(path=str(shots / "00_explorer_before.png"), full_page=True)

            last = int(X.epochs_of(run).max())
            key, steps = ("ArrowLeft", -2) if epoch >= 2 else ("ArrowRight", 2)
            handle = page.locator(".widget-hslider .noUi-handle").first
            handle.focus()
            for _ in range(abs(steps)):
                handle.press(key)
            target = epoch + steps
            assert 0 <= target <= last
            page.wait_for_function(
                f"() => document.querySelector('.memlib-epoch').textContent === 'epoch {target}'")
            page.wait_for_function(f"() => document.querySelector('.memlib-curves').dataset.epoch === '{target}'")
            after = _page_state(page)
            view = X.character_view(run, target)
            assert after["key"] == run.key
            assert after["colours"] == [_rgb(c) for c in view.colour]
            assert after["wrong"] == [not c for c in view.correct]
            assert after["colours"] != before["colours"] and after["p"] != before["p"]
            assert after["image"] != before["image"]  # the curves were redrawn with the new epoch marked
            page.screenshot(path=str(shots / "00_explorer.png"), full_page=True)

            # play runs the slider on to the last epoch
            page.locator(".widget-play button").first.click()
            page.wait_for_function(
                f"() => document.querySelector('.memlib-curves').dataset.epoch === '{last}'", timeout=60_000)
            played = _page_state(page)
            view = X.character_view(run, last)
            assert played["epoch"] == f"epoch {last}" and played["colours"] == [_rgb(c) for c in view.colour]

            # a notebook switch clears the opening view's filters, and one that would empty a filter resets it,
            # says so beside the count, and offers every value the notebook's runs have
            selects = page.locator(".widget-dropdown select")  # notebook, model, alphabet, entropy, seed, run, compare
            count = page.locator(".memlib-count")
            _choose(page, 0, "all runs", "notebook", "any")
            page.wait_for_function("() => document.querySelector('.memlib-count').textContent.includes('cleared')")
            assert "(the opening view's choice) cleared" in count.text_content()
            catalogue = X.catalogue(store)
            name, value, notebook = _a_filter_a_notebook_lacks(catalogue)
            index = X.FILTERS.index(name)
            _choose(page, index, str(value), name, value)
            _choose(page, 0, notebook, "notebook", notebook)
            page.wait_for_function("() => document.querySelector('.memlib-count').textContent.includes('reset to any')")
            note = count.text_content()
            assert f"{name.replace('_', ' ')} {value} reset to any: no run has it with notebook {notebook}" in note
            runs = X.filter_runs(X.catalogue(store), notebook=notebook)
            assert f"{len(runs)} of " in note
            offered = selects.nth(index).locator("option").all_text_contents()
            assert offered == ["any"] + [str(v) for v in sorted(set(runs[name]))]

            # End reaches the last epoch of a longer run than the one the slider was first drawn for
            table = X.filter_runs(X.catalogue(store), model="tiny-llama", seed=0)
            longest = max(table.itertuples(), key=lambda r: int(X.epochs_of(store.load(r.key)).max()))
            end = int(X.epochs_of(store.load(longest.key)).max())
            assert end > last
            _choose(page, 0, "all runs", "notebook", "any")
            _choose(page, 1, "tiny-llama", "model", "tiny-llama")
            _choose(page, 5, longest.label, "run", longest.key)
            page.wait_for_function(f"() => document.querySelector('.memlib-header').dataset.key === '{longest.key}'")
            # the slider of the new run's length is drawn once the view has settled; End goes to it, not the old one
            _settle(page, url)
            handle = page.locator(".widget-hslider .noUi-handle").first
            handle.focus()
            handle.press("End")
            page.wait_for_function(f"() => document.querySelector('.memlib-epoch').textContent === 'epoch {end}'")
            page.wait_for_function(f"() => document.querySelector('.memlib-curves').dataset.epoch === '{end}'")

            # compare with another run: both runs' characters, one above the other, and the difference named
            other = next(r for r in table.itertuples() if r.key != longest.key)
            selects.nth(6).select_option(label=other.label)
            page.wait_for_function(f"() => document.querySelector('.memlib-compare') && "
                                   f"document.querySelector('.memlib-compare').dataset.key === '{other.key}'")
            b = store.load(other.key)
            b_view = X.character_view(b, min(end, int(X.epochs_of(b).max())))
            assert page.locator(".memlib-run-b .memlib-char").count() == len(b_view)
            assert page.locator(".memlib-run-a .memlib-char").count() == len(X.character_view(store.load(longest.key), end))
            named = page.locator(".memlib-compare").text_content()
            assert "; ".join(X.differences(store.load(longest.key), b)) in named
            page.screenshot(path=str(shots / "00_explorer_compare.png"), full_page=True)

            # several changes at once, without waiting for the kernel between them (a person clicking through the
            # filters of a busy explorer): whatever the order and speed of the events, the view ends consistent
            _pick_at_once(page, [(0, "all runs"), (1, "tiny-llama"), (4, "1"), (0, notebook), (2, str(value))])
            _check_consistent(_settle(page, url), catalogue)
            _pick_at_once(page, [(0, "all runs"), (4, "0"), (1, "smollm2-135m"), (5, longest.label), (0, "all runs")])
            _check_consistent(_settle(page, url), catalogue)
        except Exception:
            page.screenshot(path=str(shots / "00_explorer_failed.png"), full_page=True)
            raise
        finally:
            browser.close()
            for spinner in spinners:
                spinner.kill()
                spinner.wait()
