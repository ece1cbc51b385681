"""memlib.verdicts: the verdict words of findings, compared between reproductions (make reproduce's last lines,
make verify)."""
import subprocess
import sys

import pytest

from memlib import verdicts as V
from memlib.notebooks import ROOT

LINE = "- S2 after S1 / fresh: median ratio {r} (95% CI {lo} to {hi}, n={n}); sign test p = {p}: {word}."


def test_the_same_contrast_with_other_numbers_has_the_same_key():
    a = V.verdict_words(LINE.format(r=0.91, lo=0.72, hi=1.71, n=6, p=0.69, word="not established"))
    b = V.verdict_words(LINE.format(r=0.73, lo=0.61, hi=0.82, n=8, p=0.0078, word="established"))
    assert list(a) == list(b) and list(a.values()) == ["not established"] and list(b.values()) == ["established"]


def test_a_changed_verdict_is_named_with_its_line_and_numbers_alone_are_not():
    old = "\n".join([LINE.format(r=0.91, lo=0.72, hi=1.71, n=6, p=0.69, word="not established"),
                     "- re-learning / first: 0.28 (0.22 to 0.70); p = 0.031: established; against 0.5: not established"])
    numbers = old.replace("0.91", "0.85").replace("0.28", "0.31")
    flipped = numbers.replace("p = 0.69: not established", "p = 0.031: established")
    assert V.compare(old, numbers) == {"same": 3, "changed": [], "unmatched": 0}
    c = V.compare(old, flipped)
    assert c["same"] == 2 and len(c["changed"]) == 1 and c["changed"][0][1:] == ("not established", "established")
    lines = V.report({"04.md": old, "06.md": old}, {"04.md": flipped, "06.md": numbers})
    assert lines[0].startswith("verdicts against the findings this run replaced: 1 of 2 the same, 1 with a verdict changed")
    assert any(line.startswith("  04.md: not established -> established: - S# after S# / fresh") for line in lines)
    assert V.report({}, {"04.md": old}) == ["verdicts: no earlier findings to compare with"] and V.report({}, {}) == []


def test_reworded_findings_are_not_comparable_rather_than_changed():
    old = LINE.format(r=0.91, lo=0.72, hi=1.71, n=6, p=0.69, word="not established")
    c = V.compare(old, old.replace("fresh", "a fresh model"))
    assert c == {"same": 0, "changed": [], "unmatched": 2}
    lines = V.report({"a.md": old}, {"a.md": old.replace("fresh", "a fresh model")})
    assert "0 of 1 the same, 1 reworded (verdicts not comparable)" in lines[0] and "not comparable" in lines[1]


def test_every_committed_finding_has_verdict_words_each_under_its_own_key():
    findings = V.read_folder(ROOT / "findings")
    assert len(findings) >= 6
    for name, text in findings.items():
        words = V.verdict_words(text)
        n = text.count("established")  # each "not established" also contains the word once
        assert len(words) == n and set(words.values()) <= {"established", "not established"}, name
        assert V.compare(text, text)["same"] == len(words), name


def test_verify_compares_a_folder_with_its_committed_version(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "findings").mkdir()
    text = LINE.format(r=0.91, lo=0.72, hi=1.71, n=6, p=0.69, word="not established")
    (tmp_path / "findings" / "04.md").write_text(text)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "findings"], check=True)
    run = [sys.executable, "-m", "memlib.verdicts", str(tmp_path / "findings")]
    (tmp_path / "findings" / "04.md").write_text(text.replace("0.91", "0.80"))
    same = subprocess.run(run, capture_output=True, text=True)
    assert same.returncode == 0 and "04.md: 1 verdicts the same, 0 changed" in same.stdout
    (tmp_path / "findings" / "04.md").write_text(text.replace("not established", "established"))
    changed = subprocess.run(run, capture_output=True, text=True)
    assert changed.returncode == 1 and "not established -> established" in changed.stdout
    bad = subprocess.run([*run, "--against", "no-such-rev"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--against no-such-rev" in bad.stderr


def test_the_same_line_under_two_models_is_matched_by_its_model_and_a_censored_unit_changes_no_key():
    """What a fresh reproduction on another CPU gave: the first model's line gained '1 censored, counted at their
    length'; read by position, the second model's line was compared with the first model's old one."""
    line = "    - S1 again / N: median ratio {r} (96.9% CI 0.2 to 0.6, n=6); faster in 6{cens}; sign test p = {p}: {w}."
    old = "\n".join(["- **smollm2-135m** (lr 1e-4)", line.format(r=0.46, cens="", p=0.031, w="established"),
                     "- **tiny-llama** (lr 1e-3)", line.format(r=0.69, cens="", p=0.22, w="not established")])
    new = "\n".join(["- **smollm2-135m** (lr 1e-4)",
                     line.format(r=0.46, cens="; 1 censored, counted at their length", p=0.031, w="established"),
                     "- **tiny-llama** (lr 1e-3)", line.format(r=0.78, cens="", p=0.69, w="not established")])
    assert V.compare(old, new) == {"same": 2, "changed": [], "unmatched": 0}
    keys = list(V.verdict_words(new))
    assert keys[0].startswith("[smollm2-135m] ") and keys[1].startswith("[tiny-llama] ")


def test_every_committed_family_keeps_a_false_established_below_5_percent():
    """Each committed finding's own family (its m primary tests, at the smallest n among them), simulated under no
    effect with the verdict rule of memlib.stats: the family-wise rate of a false 'established'."""
    import json
    import math
    import sys

    import numpy as np

    sys.path.insert(0, str(ROOT / "tests"))
    from test_stats import _family_false_positive_rate

    files = sorted((ROOT / "findings").glob("*.tests.json"))
    assert len(files) >= 5
    for f in files:
        primary = [r for r in json.loads(f.read_text()) if r["role"] == "primary"]
        m, n = len(primary), min(r["n"] for r in primary)
        assert all(r["m"] == m for r in primary), f.name
        rate = _family_false_positive_rate(m, n, 1000, np.random.default_rng(m + n))
        assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 1000), (f.name, m, n, rate)


def test_the_readme_table_is_the_one_the_findings_give_and_is_rewritten_between_its_markers(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert V.readme_table(ROOT / "findings") in readme  # typed by nobody: make reproduce wrote it
    findings = tmp_path / "findings"
    findings.mkdir()
    row = {"name": "m: a / b", "role": "primary", "n": 8, "estimate": 0.5, "low": 0.4, "high": 0.6,
           "level": 0.9921875, "p": 0.0078125, "p_adjusted": 0.0234375, "m": 3, "established": True}
    (findings / "01_x.tests.json").write_text(__import__("json").dumps([row, {**row, "name": "x", "role": "exploratory"}]))
    page = V.write_tests_page(findings)
    assert page.name == "tests.md" and "| m: a / b | 8 | 0.5 | 0.4 to 0.6 (99.2%) | 0.00781 | 0.0234 | established |" in \
        page.read_text() and "| x |" not in page.read_text()
    target = tmp_path / "README.md"
    target.write_text(f"intro\n{V.README_BEGIN}\nold table\n{V.README_END}\nafter\n")
    assert V.update_readme(target, findings)
    text = target.read_text()
    assert "old table" not in text and "| [01](findings/01_x.md) | m: a / b | 8 | 0.5 (0.4 to 0.6, 99.2%) |" in text
    assert text.startswith("intro\n") and text.endswith("after\n")
    target.write_text("no markers\n")
    assert not V.update_readme(target, findings) and target.read_text() == "no markers\n"
