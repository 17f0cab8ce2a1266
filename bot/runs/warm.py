"""Warm workers: a template process that has imported everything a run needs forks one child
per run, so a run reaches preflight without paying for Python's start and its imports.

The template (`chaosbot worker-template`, started by `WarmTemplate`) is a single-threaded
process of its own: it imports chaostoolkit-lib, the Kubernetes client, SQLAlchemy and the
worker, freezes the garbage collector's view of those objects (so the children's pages stay
shared with it), then waits on a socket for run ids. For each it forks a child that starts a
session of its own, takes the environment the request carries (the settings, the secrets, the
test clock's offset: what a cold worker's environment would be), and runs `chaosbot worker`
exactly as a cold worker does: its own process, its own signal handlers (chaostoolkit-lib's),
its own database engine (the template never opens one), its pid on the run's row. The
template reaps its children; the launcher hears each child's exit through a pidfd the
template hands it (so it hears it even after the template is gone), and its exit code
through a pipe the template writes when it reaps the child (no code when the template died
first: the run's row has the outcome either way).

Nothing here is needed for safety: when the template is not ready, has died or does not
answer, the launcher starts a cold worker and a new template.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence

__all__ = ["TEMPLATE_FD_ENV", "WarmChild", "WarmTemplate", "serve_template"]

log = logging.getLogger(__name__)

# The template's end of the launcher's socket, by file descriptor number.
TEMPLATE_FD_ENV = "CHAOSBOT_TEMPLATE_FD"
READY = b"ready"
# How long the launcher waits for the template to answer a request before it gives up on it.
ANSWER_SECONDS = 5.0
_MESSAGE = 1 << 20  # the largest request (an environment) or answer, in bytes


class WarmChild:
    """A worker forked by the template: waited for and killed through its pidfd, which works
    whoever its parent is (the template, or init once the template is gone). Its exit code
    is what the template read when it reaped it, as Popen has it (-N: killed by signal N);
    None when the template was gone before it could tell."""

    def __init__(self, pid: int, pidfd: int, status: int) -> None:
        self.pid = pid
        self._pidfd = pidfd
        self._status = status
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the child has exited; TimeoutError if it still runs after
        `timeout`."""
        readable, _, _ = select.select([self._pidfd], [], [], timeout)
        if not readable:
            raise TimeoutError(f"worker {self.pid} still runs")
        if self._status >= 0:
            # The template reaps on SIGCHLD and writes at once; a template that is stopped or
            # gone leaves the code unknown rather than the caller waiting on it.
            ready, _, _ = select.select([self._status], [], [], ANSWER_SECONDS)
            with contextlib.suppress(OSError, ValueError):
                written = os.read(self._status, 64) if ready else b""
                self.returncode = int(written) if written else None
            os.close(self._status)
            self._status = -1
        return self.returncode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def close(self) -> None:
        for fd in (self._pidfd, self._status):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pidfd = self._status = -1


class WarmTemplate:
    """The launcher's side of the template: starts it, asks it for workers, and replaces it when
    it has died. `fork` returns None whenever a cold start is the thing to do instead."""

    def __init__(self, env: Mapping[str, str], *, answer_seconds: float = ANSWER_SECONDS) -> None:
        self._env = dict(env)
        self._answer_seconds = answer_seconds
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._ready = False

    @property
    def pid(self) -> int | None:
        """The template's pid, once started (for tests and the bench)."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start a template unless one is alive (it becomes ready once its imports are done)."""
        with self._lock:
            self._ensure_started()

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the template to finish its imports (tests, bench)."""
        with self._lock:
            self._ensure_started()
            return self._check_ready(timeout)

    def fork(self, run_id: int, *, env: Mapping[str, str], rollback: bool) -> WarmChild | None:
        """A worker for the run forked by the template, or None: start a cold one (the template
        was not ready, or has died and is being replaced)."""
        with self._lock:
            self._ensure_started()
            if not self._check_ready(0):
                return None
            assert self._socket is not None
            request = {"run_id": run_id, "rollback": rollback, "env": dict(env)}
            try:
                self._socket.settimeout(self._answer_seconds)
                self._socket.send(json.dumps(request).encode())
                answer, fds, _, _ = socket.recv_fds(self._socket, _MESSAGE, 2)
            except TimeoutError:
                # A template that hangs is killed. If it had forked the run's worker, its answer
                # is already queued: that worker is the run's, and no cold one is started.
                child = self._last_answer()
                if child is None:
                    log.warning("the worker template did not answer; starting run %s cold", run_id)
                self._replace()
                return child
            except OSError as exc:
                log.warning("the worker template is gone (%s); starting run %s cold", exc, run_id)
                self._replace()
                return None
            child = _child_of(answer, fds)
            if child is None:
                log.warning("the worker template has exited; starting run %s cold", run_id)
                self._replace()
            return child

    def _last_answer(self) -> WarmChild | None:
        """Kill the template, then read an answer it may have sent already."""
        assert self._process is not None and self._socket is not None
        self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=self._answer_seconds)
        self._socket.setblocking(False)
        try:
            answer, fds, _, _ = socket.recv_fds(self._socket, _MESSAGE, 2)
        except OSError:
            return None
        return _child_of(answer, fds)

    def close(self) -> None:
        """Stop the template (its children run on, each in its own session)."""
        with self._lock:
            self._stop()

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        if self._process is not None:
            log.warning(
                "the worker template exited (%s); starting another", self._process.returncode
            )
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bot", "worker-template"],
                env={**self._env, TEMPLATE_FD_ENV: str(theirs.fileno())},
                pass_fds=[theirs.fileno()],
                start_new_session=True,
            )
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        self._socket = ours
        self._ready = False

    def _check_ready(self, timeout: float) -> bool:
        if self._ready:
            return True
        assert self._socket is not None
        readable, _, _ = select.select([self._socket], [], [], timeout)
        if not readable:
            return False
        try:
            self._ready = self._socket.recv(_MESSAGE) == READY
        except OSError:
            self._ready = False
        if not self._ready:
            self._replace()
        return self._ready

    def _replace(self) -> None:
        self._stop()
        try:
            self._ensure_started()
        except OSError:
            log.exception("could not start a worker template; runs start cold")

    def _stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        process, self._process = self._process, None
        self._ready = False
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        # Collected in the background: a template stuck in the kernel must not hold up a run.
        threading.Thread(target=process.wait, name="template-reaper", daemon=True).start()


def _child_of(answer: bytes, fds: list[int]) -> WarmChild | None:
    """The template's answer: the child's pid, its pidfd and the pipe its exit code comes on."""
    if answer and len(fds) == 2:
        return WarmChild(json.loads(answer)["pid"], fds[0], fds[1])
    for fd in fds:
        os.close(fd)
    return None


def serve_template(run_worker: Callable[[Sequence[str]], int]) -> int:
    """The template's loop: fork a worker per request read from the launcher's socket, reap
    them, and exit when the launcher closes its end. `run_worker` is `chaosbot` itself, given
    the worker's arguments, in the child."""
    channel = socket.socket(fileno=int(os.environ.pop(TEMPLATE_FD_ENV)))
    if threading.active_count() != 1 or _threads() != 1:
        # A thread would be copied into no child, holding whatever lock it held: never fork then
        # (the launcher starts each run cold while the template is not ready).
        log.error("the worker template has threads; it refuses to fork")
        return 1
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
    signal.set_wakeup_fd(wake_write)
    # Everything imported so far is shared with the children: keep the collector off its pages.
    gc.collect()
    gc.freeze()
    channel.send(READY)
    exits: dict[int, int] = {}  # child pid -> the pipe its exit code is written to
    while True:
        readable, _, _ = select.select([channel.fileno(), wake_read], [], [])
        if wake_read in readable:
            os.read(wake_read, 4096)
            _reap(exits)
        if channel.fileno() not in readable:
            continue
        try:
            message = channel.recv(_MESSAGE)
        except OSError:
            message = b""
        if not message:
            return 0  # the launcher has gone: its children run on, init reaps them
        request = json.loads(message)
        status_read, status_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            for fd in (wake_read, wake_write, status_read, status_write, *exits.values()):
                os.close(fd)
            channel.close()
            _child(request, run_worker)  # never returns
        exits[pid] = status_write
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(channel, [json.dumps({"pid": pid}).encode()], [pidfd, status_read])
        except OSError:
            pass  # the launcher has gone: the run goes on; the loop ends on the next read
        finally:
            os.close(pidfd)
            os.close(status_read)


def _threads() -> int:
    """The threads of this process, Python's or a library's own (Linux)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _reap(exits: dict[int, int]) -> None:
    """Collect every child that has exited and tell the launcher its exit code."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        pipe = exits.pop(pid, None)
        if pipe is not None:
            with contextlib.suppress(OSError):  # the launcher has stopped listening
                os.write(pipe, str(os.waitstatus_to_exitcode(status)).encode())
            os.close(pipe)


def _read_at_import_again() -> None:
    """What the template's imports read from its own environment, read again from the run's:
    the Kubernetes client's default kubeconfig (KUBECONFIG), which chaostoolkit-kubernetes'
    clients load when a run's secrets name none."""
    from kubernetes import config
    from kubernetes.config import kube_config

    default = os.environ.get("KUBECONFIG", "~/.kube/config")
    kube_config.KUBE_CONFIG_DEFAULT_LOCATION = default
    config.KUBE_CONFIG_DEFAULT_LOCATION = default


def _child(request: dict[str, object], run_worker: Callable[[Sequence[str]], int]) -> None:
    """In the forked child: become what a cold worker is, run the run, and exit."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # as a cold worker: no signal to the bot's process group reaches it
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update(env)
        _read_at_import_again()
        run_id = request["run_id"]
        # Its command line stays the template's; `ps -o comm` and top show the run instead.
        with contextlib.suppress(OSError), open("/proc/self/comm", "w") as comm:
            comm.write(f"worker {run_id}"[:15])
        args = ["worker", *(["--rollback"] if request["rollback"] else []), str(run_id)]
        code = run_worker(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        logging.getLogger(__name__).exception("the warm worker failed")
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
