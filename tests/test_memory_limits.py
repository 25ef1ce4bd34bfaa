"""The memory limit under the process's real limits: rlimits, cgroups, MemAvailable, scopes, environment.

Each source of the automatic limit is exercised on its own: the rlimits in a child process that sets
them (``resource.setrlimit``), the cgroup and /proc/meminfo readers on fake files.
"""

import os
import subprocess
import sys
import textwrap
import threading

import pytest

import mdpgrad as mg
from mdpgrad import _validation as val

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GiB = 2**30


def run_child(code, env_extra=None, timeout=20):
    """Run ``code`` in a fresh interpreter importing this checkout's mdpgrad; return the process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("MDPGRAD_MEMORY_LIMIT", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=timeout)


# A child that caps its address space (or data segment) 400 MB above what it already uses.
LIMITED = """
    import resource, re
    def used(field):
        return int(re.search(field + r":\\s*(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
    import numpy, scipy.sparse, mdpgrad as mg
    from mdpgrad import _validation as val
    room = 400 * 10**6
    resource.setrlimit(resource.{rlimit}, (used("{field}") + room, resource.RLIM_INFINITY))
"""


@pytest.mark.parametrize("rlimit, field", [("RLIMIT_AS", "VmSize"), ("RLIMIT_DATA", "VmData")])
def test_the_automatic_limit_is_the_rlimit_headroom(rlimit, field):
    code = LIMITED.format(rlimit=rlimit, field=field) + f"""
    n, source = val.memory_limit_source()
    assert n <= room and n > room // 2, (n, room)
    assert "{rlimit}" in source, source
    # a 3.2 GB table (under the 4 GiB default) is refused before numpy tries to allocate it
    try:
        mg.uniform_policy(10**8, 4)
    except mg.ValidationError as exc:
        assert "{rlimit}" in str(exc), exc
        print("refused")
    """
    p = run_child(code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "refused"


def test_td_jacobian_under_an_address_space_limit_is_a_validation_error():
    code = """
    import resource, re
    import numpy as np, mdpgrad as mg
    S, A = 2000, 4                  # P: 128 MB; the dense (S·A)² Jacobian: 512 MB
    P = np.zeros((S, A, S))
    P[np.arange(S), :, (np.arange(S) + 1) % S] = 1.0
    mdp = mg.MDP(P, np.ones((S, A)), 0.9)
    pi = mg.uniform_policy(S, A)
    used = int(re.search(r"VmSize:\\s*(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (used + 300 * 10**6, resource.RLIM_INFINITY))
    try:
        mg.td.td_jacobian(mdp, pi)
    except mg.ValidationError as exc:
        print("RLIMIT_AS" in str(exc), "512 MB" in str(exc))
    """
    p = run_child(code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "True"]


def test_td_jacobian_dense_request_beyond_the_rlimit_is_refused_with_its_source():
    code = LIMITED.format(rlimit="RLIMIT_AS", field="VmSize") + """
    from mdpgrad._validation import check_memory
    try:
        check_memory(8 * (5000 * 4) ** 2, "a dense (S·A, S·A) Jacobian", "mdp")
    except mg.ValidationError as exc:
        print(exc)
    """
    p = run_child(code)
    assert p.returncode == 0, p.stderr
    assert "3.2 GB" in p.stdout and "RLIMIT_AS headroom" in p.stdout


def test_an_explicit_limit_wins_over_the_rlimit():
    code = LIMITED.format(rlimit="RLIMIT_AS", field="VmSize") + """
    mg.set_memory_limit(8 * 2**30)
    print(val.memory_limit_source())
    """
    p = run_child(code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == repr((8 * GiB, "mdpgrad.set_memory_limit"))


def test_loading_a_small_json_does_not_reserve_the_memory_limit(tmp_path):
    path = tmp_path / "small.json"
    mg.save(mg.get_example("two-state"), path)
    # an explicit 8 GiB cap above a 400 MB address-space headroom: reading must not reserve the cap
    code = LIMITED.format(rlimit="RLIMIT_AS", field="VmSize") + f"""
    mg.set_memory_limit(8 * 2**30)
    print(mg.load({str(path)!r}).n_states)
    """
    p = run_child(code)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "2"


def test_cli_check_under_ulimit_v_loads_a_small_file(tmp_path):
    path = tmp_path / "small.json"
    mg.save(mg.get_example("two-state"), path)
    code = LIMITED.format(rlimit="RLIMIT_AS", field="VmSize") + f"""
    from mdpgrad.io._files import _read_limited
    mg.set_memory_limit(2**40)          # as the old reader did with its default: read(limit + 1)
    print(len(_read_limited({str(path)!r})))
    """
    p = run_child(code)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout) == path.stat().st_size


# -- cgroup and meminfo readers on fake files --------------------------------------------------------

def test_cgroup_v2_headroom_is_max_minus_current(tmp_path):
    (tmp_path / "memory.max").write_text("1000000\n")
    (tmp_path / "memory.current").write_text("250000\n")
    assert val.cgroup_memory_headroom(str(tmp_path)) == 750_000
    (tmp_path / "memory.max").write_text("max\n")
    assert val.cgroup_memory_headroom(str(tmp_path)) is None


def test_cgroup_v1_limit_and_its_unlimited_value(tmp_path):
    (tmp_path / "memory.limit_in_bytes").write_text("2000000\n")
    (tmp_path / "memory.usage_in_bytes").write_text("500000\n")
    assert val.cgroup_memory_headroom(str(tmp_path)) == 1_500_000
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert val.cgroup_memory_headroom(str(tmp_path)) is None


def test_own_cgroup_is_found_from_proc_self_cgroup(tmp_path):
    (tmp_path / "proc").write_text("0::/box/job\n")
    d = tmp_path / "root" / "box" / "job"
    d.mkdir(parents=True)
    (d / "memory.max").write_text("3000000\n")
    assert val.cgroup_memory_headroom(proc_cgroup=str(tmp_path / "proc"), root=str(tmp_path / "root")) \
        == 3_000_000
    (tmp_path / "proc").write_text("4:memory:/v1job\n")
    d1 = tmp_path / "root" / "memory" / "v1job"
    d1.mkdir(parents=True)
    (d1 / "memory.limit_in_bytes").write_text("5000000\n")
    assert val.cgroup_memory_headroom(proc_cgroup=str(tmp_path / "proc"), root=str(tmp_path / "root")) \
        == 5_000_000


def test_meminfo_available_reads_kilobytes(tmp_path):
    f = tmp_path / "meminfo"
    f.write_text("MemTotal:       24683784 kB\nMemFree:  100 kB\nMemAvailable:    1234 kB\n")
    assert val.meminfo_available(str(f)) == 1234 * 1024
    f.write_text("MemTotal:       24683784 kB\n")
    assert val.meminfo_available(str(f)) is None


@pytest.fixture
def fake_proc(tmp_path, monkeypatch):
    """Point the automatic limit at fake cgroup and meminfo files (no explicit limit in force)."""
    monkeypatch.delenv("MDPGRAD_MEMORY_LIMIT", raising=False)
    old = mg.set_memory_limit(None)
    (tmp_path / "proc").write_text("0::/job\n")
    (tmp_path / "job").mkdir()
    (tmp_path / "meminfo").write_text(f"MemAvailable: {64 * 2**20} kB\n")     # 64 GiB
    monkeypatch.setattr(val, "PROC_CGROUP", str(tmp_path / "proc"))
    monkeypatch.setattr(val, "CGROUP_ROOT", str(tmp_path))
    monkeypatch.setattr(val, "PROC_MEMINFO", str(tmp_path / "meminfo"))
    yield tmp_path
    mg.set_memory_limit(old)


def test_the_automatic_limit_takes_the_cgroup_when_it_is_smallest(fake_proc):
    (fake_proc / "job" / "memory.max").write_text(f"{GiB}\n")
    n, source = val.automatic_memory_limit()
    assert n == GiB and "cgroup" in source
    with pytest.raises(mg.ValidationError, match="cgroup"):
        mg.uniform_policy(GiB // 32 + 1, 4)           # 1 GiB + 32 bytes
    mg.uniform_policy(2**20, 4)


def test_the_automatic_limit_takes_memavailable_when_it_is_smallest(fake_proc):
    (fake_proc / "meminfo").write_text("MemAvailable: 1000 kB\n")
    assert val.automatic_memory_limit() == (1_024_000, "the memory available on this machine, "
                                                       "MemAvailable in /proc/meminfo")
    val.check_memory(1_024_000, "at the limit", "x")
    with pytest.raises(mg.ValidationError, match="MemAvailable"):
        val.check_memory(1_024_001, "one byte above", "x")


def test_the_automatic_limit_is_4_gib_when_the_machine_allows_more(fake_proc):
    assert val.automatic_memory_limit() == (4 * GiB, "mdpgrad's default of 4 GiB")


# -- the environment variable ------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["1e9", "-5", "0", "4 GiB", ""])
def test_an_invalid_environment_limit_is_a_validation_error_naming_it(monkeypatch, raw):
    monkeypatch.setenv("MDPGRAD_MEMORY_LIMIT", raw)
    old = mg.set_memory_limit(None)
    try:
        with pytest.raises(mg.ValidationError, match=f"MDPGRAD_MEMORY_LIMIT is {raw!r}") as info:
            mg.uniform_policy(2, 2)
        assert info.value.argument == "MDPGRAD_MEMORY_LIMIT"
    finally:
        mg.set_memory_limit(old)


def test_a_valid_environment_limit_applies(monkeypatch):
    monkeypatch.setenv("MDPGRAD_MEMORY_LIMIT", "64")
    old = mg.set_memory_limit(None)
    try:
        mg.uniform_policy(2, 4)                       # 64 bytes: at the limit
        with pytest.raises(mg.ValidationError, match="set by MDPGRAD_MEMORY_LIMIT"):
            mg.uniform_policy(3, 3)                   # 72 bytes
    finally:
        mg.set_memory_limit(old)


def test_invalid_environment_limit_neither_breaks_import_nor_prints_a_traceback():
    p = run_child("import mdpgrad; print('imported')", {"MDPGRAD_MEMORY_LIMIT": "1e9"})
    assert p.returncode == 0 and p.stdout.strip() == "imported", p.stderr
    for extra in ([], ["--json"]):
        p = subprocess.run([sys.executable, "-m", "mdpgrad", "check", *extra], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "PYTHONPATH": ROOT, "MDPGRAD_MEMORY_LIMIT": "1e9"})
        assert p.returncode == 2
        assert "Traceback" not in p.stderr
        text = p.stdout if extra else p.stderr
        assert "MDPGRAD_MEMORY_LIMIT" in text and "'1e9'" in text
        assert len(text.strip().splitlines()) == 1


# -- the thread-local scope ------------------------------------------------------------------------

def test_memory_limit_scope_is_local_to_its_thread():
    n_calls = 50
    inside_ready = threading.Barrier(2, timeout=20)
    results = {"refused_inside": 0, "refused_outside": 0}

    def inside():
        with mg.memory_limit_scope(8):                # below any table: every call refused
            inside_ready.wait()
            for _ in range(n_calls):
                try:
                    mg.uniform_policy(3, 3)
                except mg.ValidationError:
                    results["refused_inside"] += 1
            inside_ready.wait()

    def outside():
        inside_ready.wait()                           # run while the other thread is in its scope
        for _ in range(n_calls):
            try:
                mg.uniform_policy(3, 3)
            except mg.ValidationError:
                results["refused_outside"] += 1
        inside_ready.wait()

    threads = [threading.Thread(target=inside, daemon=True), threading.Thread(target=outside, daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == {"refused_inside": n_calls, "refused_outside": 0}


def test_memory_limit_scope_nests_and_restores_at_its_boundary():
    with mg.memory_limit_scope(72):
        mg.uniform_policy(3, 3)                       # 72 bytes: at the limit
        with mg.memory_limit_scope(71):
            with pytest.raises(mg.ValidationError, match="memory_limit_scope"):
                mg.uniform_policy(3, 3)
        mg.uniform_policy(3, 3)
    with pytest.raises(mg.ValidationError, match="n_bytes"):
        with mg.memory_limit_scope(0):
            pass


def test_memory_limit_scope_takes_precedence_over_set_memory_limit():
    old = mg.set_memory_limit(10**9)
    try:
        with mg.memory_limit_scope(8):
            with pytest.raises(mg.ValidationError):
                mg.uniform_policy(3, 3)
        assert val.memory_limit() == 10**9
    finally:
        assert mg.set_memory_limit(old) == 10**9
