"""Native bf16 detection, the precision parameter, and how a reproduction spreads over cores."""
import pytest
import torch

import memlib
from memlib import hardware

XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz
flags\t\t: fpu vme sse2 avx2 avx512f avx512bw avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: something else
flags\t\t: fpu
"""
EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse2 avx2 fma avx512_bf16x
"""
GRAVITON = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm bf16 i8mm
CPU implementer\t: 0x41
"""
ARM_OLD = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull
"""


@pytest.mark.parametrize("text, machine, model, flags", [
    (XEON, "x86_64", "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", ("avx512_bf16", "amx_bf16")),
    (EPYC, "x86_64", "AMD EPYC", ()),  # a flag that only starts with avx512_bf16 is not it
    (GRAVITON, "aarch64", "aarch64", ("bf16",)),
    (ARM_OLD, "aarch64", "aarch64", ()),
])
def test_native_bf16_is_read_from_what_the_cpu_reports(text, machine, model, flags):
    assert hardware.parse_cpuinfo(text, machine) == (model, flags)


def test_this_machines_cpu_is_described():
    cpu = hardware.cpu_info()
    assert cpu.model and cpu.machine and cpu.source
    assert cpu.native_bf16 == bool(cpu.bf16_flags)
    line = hardware.precision_line("cpu")
    assert cpu.model in line
    assert ("no native bf16" in line) != cpu.native_bf16
    assert hardware.bf16_matmul_speedup() > 0


@pytest.mark.parametrize("precision, want", [("fp32", None), ("bf16", "bf16"), (None, None)])
def test_precision_resolves_on_a_cpu(precision, want):
    assert hardware.resolve_precision(precision, "cpu") == want


def test_auto_precision_follows_the_cpus_own_report():
    assert hardware.resolve_precision("auto", "cpu") == ("bf16" if hardware.cpu_info().native_bf16 else None)


@pytest.mark.parametrize("bad", ["fp16", "BF16", True, 16, ""])
def test_bad_precision_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match=f"precision={bad!r} is not allowed"):
        hardware.resolve_precision(bad, "cpu")
    with pytest.raises(ValueError, match=f"precision={bad!r} is not allowed"):
        memlib.sweep.exposure_runs(["tiny-llama"], [0], alphabet_size=2, length=8, n_train_strings=1,
                                   n_test_strings=0, epochs=1, precision=bad, store=False, progress=False)


def test_precision_reaches_the_run_key_and_the_loop(tiny_llama, tmp_path):
    """The training forward of a bf16 run computes its linear layers in bf16, an fp32 run's in fp32; the
    key and the stored configuration record which, and the store returns each for its own request."""
    seen = []
    first_linear = next(m for m in tiny_llama.model.modules() if isinstance(m, torch.nn.Linear))
    hook = first_linear.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    s = memlib.random_strings(2, 7, 16, seed=3)
    runs = {}
    try:
        for precision in ("fp32", "bf16"):
            seen.clear()
            runs[precision] = memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=3, precision=precision,
                                            store=tmp_path, progress=False)
            assert set(seen) == {torch.bfloat16 if precision == "bf16" else torch.float32}, (precision, set(seen))
    finally:
        hook.remove()
    assert runs["fp32"].config.autocast is None and runs["bf16"].config.autocast == "bf16"
    assert runs["fp32"].key != runs["bf16"].key
    store = memlib.RunStore(tmp_path)
    assert store.load(runs["bf16"].key).config.autocast == "bf16"
    again = memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=3, precision="bf16", store=tmp_path,
                          progress=False)
    assert again.from_store and again.key == runs["bf16"].key
    # None is fp32 on a CPU, whatever the CPU: the same run as "fp32"
    assert memlib.expose(tiny_llama, s[:1], test_strings=s[1:], epochs=3, store=tmp_path, progress=False).key == \
        runs["fp32"].key
