"""Warm workers (CHAOSBOT_WARM_WORKERS): a run forked by the template process is a run like any
other. It reaches its end, SIGUSR1 to the pid on its row aborts it, the janitor sees a killed
one gone, and a template that dies costs nothing but speed: the next run starts cold and a new
template takes over."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.runs import EXIT_NOT_MINE
from bot.clock import FrozenClock, SystemClock
from bot.runs.events import RunObserver
from bot.runs.janitor import Janitor
from bot.runs.states import TERMINAL, RunStatus
from bot.runs.supervisor import WorkerLauncher, abort_run, worker_gone
from bot.runs.warm import WarmChild, WarmTemplate
from bot.testing.polling import eventually
from tests.fixtures.engine import NOW, ROOT, Engine

READY = 60.0  # the template's imports, on a busy machine


class Ended(RunObserver):
    """The runs whose worker the launcher has heard exit."""

    def __init__(self) -> None:
        self.ended: set[int] = set()
        self._lock = threading.Lock()

    def run_ended(self, run_id: int) -> None:
        with self._lock:
            self.ended.add(run_id)


@pytest.fixture
def ended() -> Ended:
    return Ended()


@pytest.fixture(scope="module")
def template() -> Iterator[WarmTemplate]:
    """One template for the module's tests: it holds no test's settings (each request carries
    the run's environment), so its imports are paid once."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CHAOSBOT_"))}
    shared = WarmTemplate({**env, "PYTHONPATH": str(ROOT)})
    yield shared
    shared.close()


@pytest.fixture
def warm(engine: Engine, ended: Ended, template: WarmTemplate) -> WorkerLauncher:
    assert template.wait_ready(READY)
    return WorkerLauncher(engine.env, observer=ended, template=template)


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _worker_pid(engine: Engine, run_id: int) -> int:
    pid = engine.row(run_id).worker_pid
    assert pid is not None
    return pid


def test_a_run_forked_by_the_template_reaches_its_end(
    engine: Engine, warm: WorkerLauncher, ended: Ended
) -> None:
    run_id, key = engine.create(hold=2)
    warm(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    pid = _worker_pid(engine, run_id)
    assert warm.template is not None
    # Forked by the template, in a session of its own (as a cold worker), not the bot's child.
    assert _parent(pid) == warm.template.pid
    assert os.getsid(pid) == pid
    assert Path(f"/proc/{pid}/comm").read_text().strip() == f"worker {run_id}"
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.COMPLETED
    eventually(lambda: run_id in ended.ended, what="the launcher hearing the exit")
    assert engine.policies(key) == []


def test_a_warm_worker_runs_on_the_bots_clock(
    engine: Engine, ended: Ended, template: WarmTemplate
) -> None:
    """The bot's clock offset (a test's frozen clock) reaches the forked worker as it reaches
    a cold one: through the environment the request carries."""
    later = datetime(2031, 1, 1, tzinfo=UTC)
    launcher = WorkerLauncher(
        engine.env, observer=ended, clock=FrozenClock(later), template=template
    )
    assert template.wait_ready(READY)
    run_id, _ = engine.create(hold=2)
    launcher(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    assert _parent(_worker_pid(engine, run_id)) == template.pid
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.COMPLETED
    started = engine.row(run_id).started_at
    assert started is not None and later <= started < later + timedelta(days=1)


def test_sigusr1_to_a_warm_worker_aborts_its_run(engine: Engine, warm: WorkerLauncher) -> None:
    run_id, key = engine.create(hold=60)
    warm(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    result = abort_run(db=engine.db, ref=key, by="U0BOB", now=NOW, executor=warm)
    assert result.signalled
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.ABORTED
    assert engine.policies(key) == []
    run = engine.row(run_id)
    assert run.abort_requested_by == "U0BOB"
    assert run.leftovers == []


def test_a_killed_warm_worker_is_seen_gone_by_the_janitor(
    engine: Engine, warm: WorkerLauncher, ended: Ended
) -> None:
    run_id, key = engine.create(hold=60)
    warm(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    assert not worker_gone(engine.row(run_id), datetime.now(UTC))
    pid = _worker_pid(engine, run_id)
    os.kill(pid, signal.SIGKILL)
    eventually(
        lambda: worker_gone(engine.row(run_id), datetime.now(UTC)),
        what="the janitor's view of the worker",
    )
    # The template reaps it: no zombie is left behind.
    eventually(lambda: not Path(f"/proc/{pid}").exists(), what="the template reaping it")
    eventually(lambda: run_id in ended.ended, what="the launcher hearing the exit")
    # The janitor's pass ends the run and replays its rollbacks, in a worker of the template.
    janitor = Janitor(db=engine.db, clock=SystemClock(), roll_back=warm.roll_back)
    assert janitor.tidy().rolled_back == [key]
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.FAILED
    engine.wait_until(lambda: engine.row(run_id).leftovers == [] and engine.policies(key) == [])


def test_a_dead_template_costs_a_cold_start_and_is_replaced(
    engine: Engine, warm: WorkerLauncher, ended: Ended
) -> None:
    template = warm.template
    assert template is not None and template.pid is not None
    running, _ = engine.create(hold=3)
    warm(running)
    engine.wait_for(running, RunStatus.HOLDING)
    dead = template.pid
    os.kill(dead, signal.SIGKILL)
    eventually(lambda: not Path(f"/proc/{dead}").exists() or _zombie(dead), what="its death")
    # The run it forked goes on to its end, and the bot still hears that end.
    assert engine.wait_for(running, *TERMINAL) is RunStatus.COMPLETED
    eventually(lambda: running in ended.ended, what="the launcher hearing the exit")

    run_id, _ = engine.create(hold=2)
    warm(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    # Started cold, by the bot itself.
    assert _parent(_worker_pid(engine, run_id)) == os.getpid()
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.COMPLETED

    assert template.pid is not None and template.pid != dead
    assert template.wait_ready(READY)
    run_id, _ = engine.create(hold=2)
    warm(run_id)
    engine.wait_for(run_id, RunStatus.HOLDING)
    assert _parent(_worker_pid(engine, run_id)) == template.pid
    assert engine.wait_for(run_id, *TERMINAL) is RunStatus.COMPLETED


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_template_that_hangs_is_replaced_and_the_run_starts_cold(engine: Engine) -> None:
    hung = WarmTemplate(engine.env, answer_seconds=0.5)
    launcher = WorkerLauncher(engine.env, template=hung)
    try:
        assert hung.wait_ready(READY)
        stopped = hung.pid
        assert stopped is not None
        os.kill(stopped, signal.SIGSTOP)
        run_id, _ = engine.create(hold=2)
        launcher(run_id)
        engine.wait_for(run_id, RunStatus.HOLDING)
        assert _parent(_worker_pid(engine, run_id)) == os.getpid()
        assert engine.wait_for(run_id, *TERMINAL) is RunStatus.COMPLETED
        assert hung.pid not in (None, stopped)
        assert not Path(f"/proc/{stopped}").exists()  # killed and collected
    finally:
        hung.close()


def test_the_engines_workers_are_forked_by_the_template_and_tell_their_exit_codes(
    engine: Engine, worker_template: WarmTemplate
) -> None:
    """The engine's tests run their workers as the bot does by default: forked by the template.
    The template reaps each one and hands its exit code to the launcher, as Popen would."""
    run_id, _ = engine.create(hold=60)
    worker = engine.start(run_id)
    assert isinstance(worker, WarmChild)
    engine.wait_for(run_id, RunStatus.HOLDING)
    assert _parent(_worker_pid(engine, run_id)) == worker_template.pid
    abort_run(db=engine.db, ref=run_id, by="U0ALICE", now=NOW, executor=engine.launcher)
    assert worker.wait(timeout=30) == 4  # an aborted run's exit code
    worker.close()

    killed, _ = engine.create(hold=60)
    worker = engine.start(killed)
    assert isinstance(worker, WarmChild)
    engine.wait_for(killed, RunStatus.HOLDING)
    worker.kill()
    assert worker.wait(timeout=30) == -signal.SIGKILL
    worker.close()


def test_two_workers_for_one_run_run_it_once(engine: Engine, worker_template: WarmTemplate) -> None:
    """A template that hangs after forking a worker but before answering leaves the launcher
    to start a cold one for the same run. That costs a process, not a second fault: the first
    worker to move the run into preflight owns it (a conditional transition) and the other
    exits without touching the cluster."""
    run_id, key = engine.create(hold=2)
    forked = worker_template.fork(run_id, env=engine.env, rollback=False)
    assert forked is not None
    cold = engine.start_process(run_id)
    codes = {forked.pid: forked.wait(timeout=60), cold.pid: cold.wait(timeout=60)}
    forked.close()
    run = engine.row(run_id)
    assert run.status is RunStatus.COMPLETED
    assert run.worker_pid in codes
    assert codes[run.worker_pid] == 0  # the owner ran it to its end
    assert set(codes.values()) == {0, EXIT_NOT_MINE}  # the other says it left the run alone
    assert len(engine.kube.requests_matching("POST", r"/networkpolicies$")) == 1
    assert sum(e.message == "preflight checks" for e in run.events) == 1
    assert engine.policies(key) == []


def test_a_worker_that_comes_after_the_run_ended_says_not_mine(engine: Engine) -> None:
    """The race above in the order a slow machine gives it: the cold worker finishes its imports
    after the forked one has run the whole run. It reports that the run was not its own (not the
    run's outcome, which is the owner's to report) and sends the cluster nothing."""
    run_id, _ = engine.create()
    assert engine.run(run_id) == 0
    sent = len(engine.kube.requests)
    late = engine.start_process(run_id)
    assert late.wait(timeout=60) == EXIT_NOT_MINE
    assert engine.kube.requests[sent:] == []
    assert engine.row(run_id).status is RunStatus.COMPLETED


def test_a_worker_for_a_run_aborted_before_it_started_reports_the_abort(engine: Engine) -> None:
    """No worker claimed the run, so the one that finds it aborted reports the abort (4)."""
    run_id, key = engine.create()
    abort_run(db=engine.db, ref=key, by="U0BOB", now=NOW, executor=engine.launcher)
    assert engine.row(run_id).status is RunStatus.ABORTED
    sent = len(engine.kube.requests)
    assert engine.start_process(run_id).wait(timeout=60) == 4
    assert engine.kube.requests[sent:] == []
    assert engine.row(run_id).worker_pid is None
