"""The local backend's pool of warm worker processes: real processes, real crashes, no timings."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flytecore.propeller.backends.local import (
    DEFAULT_IN_PROCESS,
    Job,
    JobHandle,
    JobOutcome,
    JobResult,
    PoolClosedError,
    WorkerPool,
)
from flytecore.sdk import _handoff

COMMANDS = {
    name: f"tests.propeller.backends.pool_commands:{name}"
    for name in (
        "echo", "whoami", "show_env", "mutate_process", "wait_for", "sleep", "segfault", "hard_exit",
        "boom", "sys_exit", "hoard", "handoff", "slow_handoff",
    )
}  # fmt: skip

MakePool = Callable[..., WorkerPool]


# Every test runs twice: workers opening each job's log files ("direct", a pool without a
# log_dir), and workers writing through their spool files, published at the job's log paths once
# written ("spools", the sandbox's way).
MODES = ["direct", "spools"]


def _log_dir(mode: str, factory: pytest.TempPathFactory) -> Path | None:
    return factory.mktemp("workers") if mode == "spools" else None


@pytest.fixture(params=MODES)
def make_pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakePool]:
    """Pools with the test commands; each is closed at the end of the test."""
    pools: list[WorkerPool] = []

    def make(size: int = 1, **kwargs: object) -> WorkerPool:
        kwargs.setdefault("in_process_commands", {**DEFAULT_IN_PROCESS, **COMMANDS})
        kwargs.setdefault("log_dir", _log_dir(request.param, tmp_path_factory))
        pool = WorkerPool(size, **kwargs)  # type: ignore[arg-type]
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close(timeout=5)


@pytest.fixture(scope="module", params=MODES)
def shared_pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    """One pool for the tests that leave the workers as they found them."""
    with WorkerPool(2, in_process_commands=COMMANDS, log_dir=_log_dir(request.param, tmp_path_factory)) as pool:
        yield pool


class Files:
    """Output files of jobs in one test's tmp_path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def job(self, job_id: str, argv: list[str], **kwargs: object) -> Job:
        return Job(
            job_id,
            argv,
            stdout_path=self.root / f"{job_id}.out",
            stderr_path=self.root / f"{job_id}.err",
            **kwargs,  # type: ignore[arg-type]
        )

    def out(self, job_id: str) -> str:
        return (self.root / f"{job_id}.out").read_text()

    def err(self, job_id: str) -> str:
        return (self.root / f"{job_id}.err").read_text()

    def started(self, job_id: str) -> bool:
        """True once the job printed "started" (the sleep and wait_for commands do)."""
        path = self.root / f"{job_id}.out"
        return path.exists() and "started" in path.read_text()


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)


def finished(handle: JobHandle) -> JobResult:
    result = handle.wait(timeout=60)
    assert result is not None, f"job {handle.job.job_id} did not finish"
    return result


def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Wait (up to a generous minute) for something the pool does in the background."""
    deadline = time.monotonic() + 60
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        time.sleep(0.01)


def process_gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return True
    # A zombie nobody reaped yet has ended too, once all of its threads are gone: a killed
    # process's main thread turns zombie while its other threads are still exiting.
    return "\nState:\tZ" in status and len(threads) <= 1


# -- running jobs ------------------------------------------------------------------------------


def test_in_process_job_gets_args_and_env_and_its_output_is_captured(
    shared_pool: WorkerPool, files: Files
) -> None:
    result = finished(shared_pool.submit(files.job("echo", ["echo", "7", "x"], env={"JOB_VAR": "hello"})))
    assert (result.outcome, result.exit_code, result.ok) == (JobOutcome.EXITED, 7, False)
    assert result.message == "job echo exited with code 7"
    assert result.started_at is not None and result.started_at <= result.finished_at
    out, err = files.out("echo"), files.err("echo")
    for line in ("args ['7', 'x']", "env hello", "raw fd 1", "from C printf", "subprocess out"):
        assert line in out.splitlines()
    for line in ("python stderr", "raw fd 2", "subprocess err"):
        assert line in err.splitlines()
    assert "subprocess err" not in out and "subprocess out" not in err


def test_an_in_process_job_gets_documents_in_hand_and_gives_its_outputs_back(
    shared_pool: WorkerPool, files: Files
) -> None:
    """The hand-off of flytecore's entrypoint (flytecore.sdk._handoff): documents come with the
    job, its outputs document goes back with the result, and nothing of it stays for the next."""
    job = files.job("hand", ["handoff", "mem://in", "/out/0", "result"], hand_in={"mem://in": b"inputs"},
                    hand_back="/out/0")
    result = finished(shared_pool.submit(job))
    assert result.ok and result.handed_back == {"outputs.pb": b"result"}
    assert files.out("hand").splitlines() == ["given b'inputs'", "taken True", "error taken False"]
    # Another prefix, no document handed: nothing in hand (the entrypoint reads storage).
    for job_id in ("other-prefix", "none"):
        job = files.job(job_id, ["handoff", "mem://in", "/out/0", "x"], hand_back="/out/1" if job_id != "none" else None)
        result = finished(shared_pool.submit(job))
        assert result.ok and result.handed_back == {}
        assert files.out(job_id).splitlines() == ["given None", "taken False", "error taken False"]
    too_big = "x" * (_handoff.LIMIT + 1)
    result = finished(shared_pool.submit(files.job("big", ["handoff", "u", "/p", too_big], hand_back="/p")))
    assert result.ok and result.handed_back == {} and "taken False" in files.out("big").splitlines()
    # A longer attempt writes its outputs (durable at once): only a short one is run again if the
    # propeller dies before saving what it handed back.
    result = finished(shared_pool.submit(files.job("slow", ["slow_handoff", "/p"], hand_back="/p")))
    assert result.ok and result.handed_back == {} and files.out("slow").splitlines() == ["taken False"]
    # Counted from the task's start: a slow load (a first import in a new worker) is not the
    # attempt's run time.
    result = finished(shared_pool.submit(files.job("slow-load", ["slow_handoff", "/p", "load"], hand_back="/p")))
    assert result.ok and result.handed_back == {"outputs.pb": b"late"}


def test_workers_are_separate_warm_processes(shared_pool: WorkerPool, files: Files) -> None:
    result = finished(shared_pool.submit(files.job("who", ["whoami"])))
    pid = int(files.out("who").split()[1])
    assert pid == result.worker_pid and pid != os.getpid()
    # Its own process group: a kill reaches the job's subprocesses, a terminal's Ctrl-C does not.
    assert f"pgid {pid} " in files.out("who")
    assert f"executable {sys.executable}" in files.out("who")
    assert "flytecore imported True" in files.out("who")


@pytest.mark.parametrize(
    ("argv", "code", "stream", "text"),
    [
        ([sys.executable, "-c", "import os; print('v=' + os.environ['JOB_VAR'])"], 0, "out", "v=from-job"),
        ([sys.executable, "-c", "import sys; print('bad', file=sys.stderr); sys.exit(5)"], 5, "err", "bad"),
        (["no-such-command-flytecore"], 127, "err", "command not found: no-such-command-flytecore"),
    ],
)
def test_command_lines_run_as_subprocesses(
    shared_pool: WorkerPool, files: Files, argv: list[str], code: int, stream: str, text: str
) -> None:
    result = finished(shared_pool.submit(files.job("cmd", argv, env={"JOB_VAR": "from-job"})))
    assert (result.outcome, result.exit_code) == (JobOutcome.EXITED, code)
    assert text in (files.out("cmd") if stream == "out" else files.err("cmd"))


def test_job_runs_in_its_cwd_and_both_streams_may_share_a_file(
    shared_pool: WorkerPool, tmp_path: Path
) -> None:
    log = tmp_path / "both.log"
    job = Job(
        "cwd",
        [sys.executable, "-c", "import os; print(os.getcwd())"],
        cwd=tmp_path,
        stdout_path=log,
        stderr_path=log,
    )
    assert finished(shared_pool.submit(job)).ok
    assert log.read_text().strip() == str(tmp_path)


def test_an_exception_in_the_in_process_function_is_exit_code_1_with_its_traceback(
    shared_pool: WorkerPool, files: Files
) -> None:
    result = finished(shared_pool.submit(files.job("boom", ["boom"])))
    assert (result.outcome, result.exit_code) == (JobOutcome.EXITED, 1)
    assert "Traceback" in files.err("boom") and "RuntimeError: boom from the task" in files.err("boom")
    assert finished(shared_pool.submit(files.job("exit", ["sys_exit", "4"]))).exit_code == 4


def test_in_process_commands_resolve_lazily(make_pool: MakePool, files: Files) -> None:
    pool = make_pool(in_process_commands={"later": "tests.propeller.backends.not_written_yet:main"})
    result = finished(pool.submit(files.job("later", ["later"])))
    assert (result.outcome, result.exit_code) == (JobOutcome.EXITED, 1)
    assert "No module named 'tests.propeller.backends.not_written_yet'" in files.err("later")
    with pytest.raises(ValueError, match="must name 'module:function'"):
        WorkerPool(1, in_process_commands={"bad": "no_colon"})


def test_submit_is_thread_safe(shared_pool: WorkerPool) -> None:
    handles: list[JobHandle] = []
    lock = threading.Lock()

    def submit_many(thread: int) -> None:
        for i in range(25):
            handle = shared_pool.submit(Job(f"t{thread}-{i}", ["sys_exit", "0"]))
            with lock:
                handles.append(handle)

    threads = [threading.Thread(target=submit_many, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(handles) == 100
    assert all(finished(handle).ok for handle in handles)


# -- queueing, state between jobs, recycling ----------------------------------------------------


def test_jobs_beyond_the_pool_size_queue(make_pool: MakePool, files: Files, tmp_path: Path) -> None:
    pool = make_pool(2)
    gate = tmp_path / "gate"
    handles = [pool.submit(files.job(f"q{i}", ["wait_for", str(gate)])) for i in range(5)]
    eventually(lambda: pool.running == 2, "two jobs run")
    assert (pool.queued, pool.free_workers) == (3, 0)
    assert [handle.done() for handle in handles] == [False] * 5
    gate.touch()
    results = [finished(handle) for handle in handles]
    assert all(result.ok for result in results)
    assert len({result.worker_pid for result in results}) == 2
    assert (pool.queued, pool.running, pool.free_workers) == (0, 0, 2)


def test_environment_cwd_and_streams_are_restored_between_jobs(
    make_pool: MakePool, files: Files, tmp_path: Path
) -> None:
    pool = make_pool(1, env={"POOL_VAR": "base"})
    first = finished(
        pool.submit(files.job("mutate", ["mutate_process", str(tmp_path)], env={"JOB_ONLY": "1"}))
    )
    second = finished(pool.submit(files.job("show", ["show_env", "LEAKED", "POOL_VAR", "JOB_ONLY"])))
    assert first.ok and second.ok
    assert first.worker_pid == second.worker_pid  # the same process, so restoring is what is tested
    assert files.out("show").splitlines() == [
        "LEAKED=<unset>", "POOL_VAR=base", "JOB_ONLY=<unset>", f"cwd={os.getcwd()}",
    ]  # fmt: skip


def test_a_job_for_an_idle_warm_worker_runs_when_submit_returns(make_pool: MakePool, files: Files, tmp_path: Path) -> None:
    pool = make_pool(2)
    assert finished(pool.submit(Job("warm-up", ["sys_exit", "0"]))).ok
    gate = tmp_path / "gate"
    first = pool.submit(files.job("first", ["wait_for", str(gate)]))
    assert first.started() and pool.running == 1  # sent by submit itself: never queued
    eventually(lambda: files.started("first"), "it runs")
    # The other worker may still be starting: its job waits for it, in the queue or its slot.
    second = pool.submit(files.job("second", ["wait_for", str(gate)]))
    eventually(lambda: files.started("second"), "the second runs beside it")
    gate.touch()
    assert finished(first).ok and finished(second).ok
    assert first.result().worker_pid != second.result().worker_pid  # type: ignore[union-attr]


def test_a_worker_is_replaced_after_max_jobs_per_worker(make_pool: MakePool) -> None:
    pool = make_pool(1, max_jobs_per_worker=2)
    pids = [finished(pool.submit(Job(f"j{i}", ["sys_exit", "0"]))).worker_pid for i in range(4)]
    assert pids[0] == pids[1] != pids[2] == pids[3]
    assert process_gone(pids[0])  # type: ignore[arg-type]


def test_a_worker_above_max_rss_is_replaced(make_pool: MakePool) -> None:
    pool = make_pool(1, max_rss_bytes=256 * 2**20)
    small = [finished(pool.submit(Job(f"s{i}", ["hoard", "0"]))).worker_pid for i in range(2)]
    big = finished(pool.submit(Job("big", ["hoard", str(300 * 2**20)])))
    after = finished(pool.submit(Job("after", ["hoard", "0"])))
    assert small[0] == small[1] == big.worker_pid != after.worker_pid


# -- crashes, timeouts, cancellation -------------------------------------------------------------


def test_a_worker_killed_while_idle_is_replaced_without_failing_the_next_job(make_pool: MakePool) -> None:
    pool = make_pool(1)
    victim = finished(pool.submit(Job("first", ["sys_exit", "0"]))).worker_pid
    assert victim is not None
    os.kill(victim, signal.SIGKILL)  # as the OOM killer would
    eventually(lambda: process_gone(victim), "the worker is dead")
    after = finished(pool.submit(Job("after", ["sys_exit", "0"])))
    assert after.ok and after.worker_pid != victim


@pytest.mark.parametrize(
    ("argv", "exit_code", "death"),
    [
        (["segfault"], -signal.SIGSEGV, "died with signal SIGSEGV"),
        (["hard_exit", "3"], 3, "exited with code 3"),
    ],
    ids=["segfault", "os._exit"],
)
def test_a_crash_fails_only_its_job_and_the_worker_is_replaced(
    make_pool: MakePool, files: Files, tmp_path: Path, argv: list[str], exit_code: int, death: str
) -> None:
    pool = make_pool(2)
    gate = tmp_path / "gate"
    neighbour = pool.submit(files.job("neighbour", ["wait_for", str(gate)]))
    eventually(lambda: files.started("neighbour"), "the neighbour runs")
    crash = finished(pool.submit(files.job("crash", argv)))
    assert (crash.outcome, crash.exit_code) == (JobOutcome.CRASHED, exit_code)
    assert crash.message == f"worker process {crash.worker_pid} {death} while running job crash"
    assert f"flytecore: {crash.message}" in files.err("crash")
    if exit_code == -signal.SIGSEGV:
        assert "Fatal Python error: Segmentation fault" in files.err("crash")  # faulthandler
    assert not neighbour.done()
    after = finished(pool.submit(files.job("after", ["sys_exit", "0"])))
    assert after.ok and after.worker_pid != crash.worker_pid
    gate.touch()
    survivor = finished(neighbour)
    assert survivor.ok and survivor.worker_pid not in (crash.worker_pid, after.worker_pid)


def test_without_pidfds_a_crash_is_still_noticed(
    make_pool: MakePool, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel that refuses pidfd_open (before Linux 5.3, a seccomp filter, valgrind): the pool
    polls its workers' exit status instead, and a crash fails its job as with a pidfd."""
    refused: list[int] = []

    def pidfd_open(pid: int, flags: int = 0) -> int:
        refused.append(pid)
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", pidfd_open, raising=False)
    pool = make_pool(1)
    crash = finished(pool.submit(files.job("crash", ["hard_exit", "3"])))
    assert (crash.outcome, crash.exit_code) == (JobOutcome.CRASHED, 3)
    assert crash.message == f"worker process {crash.worker_pid} exited with code 3 while running job crash"
    after = finished(pool.submit(files.job("after", ["sys_exit", "0"])))
    assert after.ok and after.worker_pid != crash.worker_pid
    assert {crash.worker_pid, after.worker_pid} <= set(refused)


def warm_up(pool: WorkerPool, warm: bool) -> None:
    """With ``warm``: run a job first, so the next goes to a ready, idle worker (sent by the
    submitting thread itself) rather than to one that is still starting (sent by its slot)."""
    if warm:
        assert finished(pool.submit(Job("warm-up", ["sys_exit", "0"]))).ok


@pytest.mark.parametrize("warm", [False, True], ids=["new-worker", "warm-worker"])
def test_a_job_over_its_timeout_is_killed_with_its_subprocesses(make_pool: MakePool, files: Files, warm: bool) -> None:
    pool = make_pool(1)
    warm_up(pool, warm)
    argv = [
        sys.executable,
        "-c",
        "import os, time; print(os.getpid(), os.getppid(), flush=True); time.sleep(60)",
    ]
    result = finished(pool.submit(files.job("slow", argv, timeout=0.5)))
    assert (result.outcome, result.exit_code) == (JobOutcome.TIMED_OUT, None)
    assert (
        result.message
        == f"job slow timed out after 0.5 s; worker process {result.worker_pid} was killed and replaced"
    )
    child = int(files.out("slow").split()[0])
    eventually(lambda: process_gone(child) and process_gone(result.worker_pid), "worker and child are gone")  # type: ignore[arg-type]
    after = finished(pool.submit(Job("after", ["sys_exit", "0"])))
    assert after.ok and after.worker_pid != result.worker_pid


def test_cancel_a_queued_job(make_pool: MakePool, files: Files, tmp_path: Path) -> None:
    pool = make_pool(1)
    gate = tmp_path / "gate"
    running = pool.submit(files.job("running", ["wait_for", str(gate)]))
    eventually(lambda: pool.running == 1, "the first job runs")
    queued = pool.submit(files.job("queued", ["sys_exit", "0"]))
    assert pool.queued == 1
    assert queued.cancel() is True
    result = queued.result()
    assert result is not None and (result.outcome, result.started_at) == (JobOutcome.CANCELLED, None)
    assert result.message == "job queued was cancelled before it started"
    assert pool.queued == 0
    gate.touch()
    assert finished(running).ok
    assert queued.cancel() is False and running.cancel() is False


@pytest.mark.parametrize("warm", [False, True], ids=["new-worker", "warm-worker"])
def test_cancel_a_running_job(make_pool: MakePool, files: Files, tmp_path: Path, warm: bool) -> None:
    pool = make_pool(1)
    warm_up(pool, warm)
    handle = pool.submit(files.job("long", ["sleep", "60"]))
    eventually(lambda: files.started("long"), "it runs")
    assert handle.cancel() is True
    result = finished(handle)
    assert (result.outcome, result.exit_code) == (JobOutcome.CANCELLED, None)
    assert (
        result.message
        == f"job long was cancelled while running; worker process {result.worker_pid} was killed and replaced"
    )
    assert process_gone(result.worker_pid)  # type: ignore[arg-type]
    after = finished(pool.submit(Job("after", ["sys_exit", "0"])))
    assert after.ok and after.worker_pid != result.worker_pid


# -- callbacks and closing ------------------------------------------------------------------------


def test_done_callbacks(make_pool: MakePool) -> None:
    pool = make_pool(1)
    calls: list[tuple[str, str]] = []
    called = threading.Event()

    def record(handle: JobHandle) -> None:
        calls.append((handle.job.job_id, threading.current_thread().name))
        called.set()

    def broken(handle: JobHandle) -> None:
        raise RuntimeError("a broken callback")

    handle = pool.submit(Job("cb", ["sys_exit", "0"]))
    handle.add_done_callback(broken)
    handle.add_done_callback(record)
    assert called.wait(60)
    assert calls == [("cb", calls[0][1])] and calls[0][1].startswith("flytecore-pool-")
    handle.add_done_callback(record)  # already done: called at once, here
    assert calls[1] == ("cb", threading.current_thread().name)
    assert finished(pool.submit(Job("next", ["sys_exit", "0"]))).ok  # the broken one did no harm


def test_close_lets_running_jobs_finish_within_its_timeout(
    make_pool: MakePool, files: Files, tmp_path: Path
) -> None:
    pool = make_pool(1)
    gate = tmp_path / "gate"
    handle = pool.submit(files.job("gated", ["wait_for", str(gate)]))
    eventually(lambda: pool.running == 1, "the job runs")
    closer = threading.Thread(target=pool.close, kwargs={"timeout": 60})
    closer.start()
    eventually(lambda: pool._closed, "the pool closes")
    gate.touch()
    closer.join()
    assert finished(handle).ok


def test_close_with_jobs_running_cancels_them_and_stops_the_workers(
    make_pool: MakePool, files: Files, tmp_path: Path
) -> None:
    pool = make_pool(1)
    running = pool.submit(files.job("long", ["sleep", "60"]))
    queued = pool.submit(Job("queued", ["sys_exit", "0"]))
    eventually(lambda: files.started("long"), "it runs")
    pool.close(timeout=0.2)
    first, second = finished(running), finished(queued)
    assert (first.outcome, second.outcome) == (JobOutcome.CANCELLED, JobOutcome.CANCELLED)
    assert first.message == "the worker pool was closed while job long was running"
    assert second.message == "the worker pool was closed before job queued started"
    assert process_gone(first.worker_pid)  # type: ignore[arg-type]
    pool.close()  # again: nothing to do
    with pytest.raises(PoolClosedError, match="cannot run job late"):
        pool.submit(Job("late", ["sys_exit", "0"]))


def test_close_stops_idle_workers(make_pool: MakePool, tmp_path: Path) -> None:
    pool = make_pool(2)
    gate = tmp_path / "gate"
    handles = [pool.submit(Job(f"j{i}", ["wait_for", str(gate)])) for i in range(2)]
    eventually(lambda: pool.running == 2, "both workers run a job")
    gate.touch()
    pids = {finished(handle).worker_pid for handle in handles}
    assert len(pids) == 2
    pool.close()
    assert all(process_gone(pid) for pid in pids)  # type: ignore[arg-type]


def test_workers_and_their_subprocesses_die_with_a_killed_pool_process(tmp_path: Path) -> None:
    out = tmp_path / "child.out"
    script = f"""
import os, signal, sys, time
from flytecore.propeller.backends.local import Job, WorkerPool
pool = WorkerPool(1)
argv = [sys.executable, "-c", "import os, time; print(os.getpid(), os.getppid(), flush=True); time.sleep(60)"]
pool.submit(Job("orphan", argv, stdout_path={str(out)!r}))
while not os.path.exists({str(out)!r}) or not open({str(out)!r}).read():
    time.sleep(0.01)
os.kill(os.getpid(), signal.SIGKILL)  # no close(), no atexit: the pool's process just vanishes
"""
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == -signal.SIGKILL
    child, worker = map(int, out.read_text().split())
    eventually(lambda: process_gone(worker) and process_gone(child), "the orphaned worker and its child die")


# -- spool files: a job's log files only when it writes -----------------------------------------


def test_with_spools_a_job_gets_only_the_log_files_it_wrote(tmp_path: Path, files: Files) -> None:
    with WorkerPool(1, in_process_commands=COMMANDS, log_dir=tmp_path / "workers") as pool:
        assert finished(pool.submit(files.job("quiet", ["sys_exit", "0"]))).ok
        assert finished(pool.submit(files.job("talks", ["whoami"]))).ok
        assert finished(pool.submit(files.job("quiet-again", ["sys_exit", "0"]))).ok
    assert not (tmp_path / "quiet.out").exists() and not (tmp_path / "quiet.err").exists()
    assert not (tmp_path / "quiet-again.out").exists() and not (tmp_path / "talks.err").exists()
    assert files.out("talks").startswith("pid ")


def test_with_spools_each_job_keeps_its_own_output(tmp_path: Path, files: Files) -> None:
    with WorkerPool(1, in_process_commands=COMMANDS, log_dir=tmp_path / "workers") as pool:
        for name in ("one", "two", "three"):
            assert finished(pool.submit(files.job(name, ["show_env", name.upper()]))).ok
    for name in ("one", "two", "three"):
        assert files.out(name).splitlines()[0] == f"{name.upper()}=<unset>"
        assert len(files.out(name).splitlines()) == 2  # the variable and the cwd: nothing of another job
    spools = sorted(p.name for p in (tmp_path / "workers").iterdir())
    assert spools == ["worker-0.log", "worker-0.stderr", "worker-0.stdout"]
    assert (tmp_path / "workers" / "worker-0.stdout").stat().st_size == 0


def test_with_spools_on_another_file_system_output_is_copied(tmp_path: Path, files: Files) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system for the spools: /dev/shm is missing or on the same one as tmp_path")
    log_dir = shm / f"flytecore-test-spools-{os.getpid()}-{tmp_path.name}"
    try:
        with WorkerPool(1, in_process_commands=COMMANDS, log_dir=log_dir) as pool:
            for name in ("one", "two"):  # the first job finds links impossible: copied, then direct
                assert finished(pool.submit(files.job(name, ["show_env", name.upper()]))).ok
            assert finished(pool.submit(files.job("quiet", ["sys_exit", "0"]))).ok
        for name in ("one", "two"):
            assert files.out(name).splitlines()[0] == f"{name.upper()}=<unset>"
        assert (tmp_path / "quiet.out").exists()  # opened directly, as without spools
    finally:
        import shutil

        shutil.rmtree(log_dir, ignore_errors=True)


def test_a_handle_releases_its_waiters_and_makes_no_event_for_a_caller_that_does_not_wait() -> None:
    """The propeller asks ``result()`` and is called back: its handles make no threading.Event
    (a condition and a lock per job); a thread that waits gets one, and is released by the end."""
    import datetime as dt

    lock = threading.Lock()
    result = JobResult(JobOutcome.EXITED, 0, "done", None, dt.datetime.now(dt.UTC))

    def finish(handle: JobHandle) -> None:
        with lock:
            callbacks = handle._complete(result)
        for fn in callbacks:
            fn(handle)

    called: list[JobHandle] = []
    unwatched = JobHandle(Job(job_id="a", argv=("x",)), None, lock)  # type: ignore[arg-type]
    unwatched.add_done_callback(called.append)
    assert not unwatched.done() and unwatched.result() is None
    finish(unwatched)
    assert called == [unwatched] and unwatched.done() and unwatched.result() is result
    assert unwatched._event is None
    assert unwatched.wait(0) is result  # done: no wait, no event

    watched = JobHandle(Job(job_id="b", argv=("x",)), None, lock)  # type: ignore[arg-type]
    assert watched.wait(0.01) is None  # not done: times out
    got: list[JobResult | None] = []
    waiters = [threading.Thread(target=lambda: got.append(watched.wait(60))) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    deadline = time.monotonic() + 10
    while watched._event is None and time.monotonic() < deadline:
        time.sleep(0.001)
    assert watched._event is not None and not watched.done()
    time.sleep(0.05)  # the waiters block in it
    finish(watched)
    for waiter in waiters:
        waiter.join(10)
    assert got == [result, result, result]
