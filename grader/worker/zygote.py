"""The warm worker: a process that has imported numpy and torch and forks one worker per submission.

A fresh interpreter that imports torch costs about 2 s; a fork of this one
costs tens of milliseconds. The zygote runs no torch operation (GNU OpenMP is
not fork-safe) and holds nothing secret: it is started with a scrubbed
environment and never sees tests, solutions or results. Each child closes
every inherited descriptor but its channel and output pipes, confines itself
(:func:`grader.worker.confine.confine`) and serves one submission.

Control messages (SOCK_SEQPACKET, JSON, descriptors passed with SCM_RIGHTS):
``spawn`` (config + channel, stdout, stderr) -> ``{"pid"}``; ``kill`` ->
``{"status"}``; ``status`` -> ``{"status"}``.
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import time

MAX_CONTROL_MESSAGE = 1 << 20
CHANNEL_FD = 3


def describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"killed by {signal.Signals(number).name}"
        except ValueError:
            return f"killed by signal {number}"
    return f"exit code {os.WEXITSTATUS(status)}"


class Zygote:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.children: dict[int, dict] = {}

    def serve(self) -> None:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(self.control, MAX_CONTROL_MESSAGE, 3)
            except OSError:
                break
            if not message:
                break
            request = json.loads(message)
            try:
                reply = getattr(self, f"op_{request['op']}")(request, fds)
            except Exception as error:  # noqa: BLE001 - reported to the grader, the zygote lives on
                reply = {"error": f"{type(error).__name__}: {error}"}
            finally:
                for fd in fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self.control.send(json.dumps(reply).encode())
        for pid, child in list(self.children.items()):
            self.kill_child(pid, child)

    def op_spawn(self, request: dict, fds: list[int]) -> dict:
        if len(fds) != 3:
            raise ValueError("spawn needs the channel, stdout and stderr descriptors")
        config = request["config"]
        pid = os.fork()
        if pid == 0:  # the child: never returns
            self.become_worker(config, fds)
        self.children[pid] = {"uid": config.get("uid"), "status": None}
        return {"pid": pid}

    def become_worker(self, config: dict, fds: list[int]) -> None:
        code = 70
        try:
            channel, stdout, stderr = fds
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(stdout, 1)
            os.dup2(stderr, 2)
            os.dup2(channel, CHANNEL_FD)
            os.closerange(CHANNEL_FD + 1, 65536)  # the control socket above all: it talks to a root process
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            from grader.worker.confine import confine
            from grader.worker.server import run_worker

            confine(config)
            run_worker(config, CHANNEL_FD)
            code = 0
        except BaseException as error:  # noqa: BLE001 - the child must never return into the zygote's loop
            try:
                os.write(2, f"worker failed: {type(error).__name__}: {error}\n".encode())
            except OSError:
                pass
        finally:
            os._exit(code)

    def op_kill(self, request: dict, fds: list[int]) -> dict:
        pid = int(request["pid"])
        child = self.children.get(pid)
        if child is None:
            return {"status": "unknown"}
        return {"status": self.kill_child(pid, child)}

    def kill_child(self, pid: int, child: dict) -> str:
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        # Reap the worker first: a zombie still counts for kill(-1), and the sweep would spin on it.
        status = self.wait_for(pid, 2.0)
        if child.get("uid") is not None:
            kill_every_process_of(int(child["uid"]))
        self.children.pop(pid, None)
        return status

    def op_status(self, request: dict, fds: list[int]) -> dict:
        pid = int(request["pid"])
        if pid not in self.children:
            return {"status": "unknown"}
        return {"status": self.wait_for(pid, float(request.get("wait", 0.0)))}

    def wait_for(self, pid: int, wait: float) -> str:
        child = self.children.get(pid, {})
        if child.get("status"):
            return child["status"]
        deadline = time.monotonic() + wait
        while True:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return child.get("status") or "exited"
            if done:
                child["status"] = describe_status(status)
                return child["status"]
            if time.monotonic() >= deadline:
                return "still running"
            time.sleep(0.005)


def kill_every_process_of(uid: int) -> None:
    """SIGKILL every process of ``uid``: a helper becomes that uid and signals -1.

    Nothing a submission starts survives this, whatever its process group or
    session, because each concurrent sandbox has a uid of its own.
    """
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            # kill(-1) reports success even when it reached nobody, and is not atomic against
            # a fork bomb: repeat until no other live process of the uid is left.
            for _ in range(100):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                if not _live_processes_of(uid, exclude=os.getpid()):
                    break
                time.sleep(0.002)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def _live_processes_of(uid: int, exclude: int) -> bool:
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != exclude:
            try:
                with open(f"/proc/{name}/status", encoding="ascii", errors="replace") as status:
                    text = status.read()
            except OSError:
                continue
            if f"Uid:\t{uid}\t" in text and "State:\tZ" not in text:
                return True
    return False


def main(argv: list[str]) -> None:
    config = json.loads(argv[1])
    for module in config.get("preload", []):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - a package that fails to import fails in the child, with its message
            pass
    import grader.worker.confine  # noqa: F401 - warm the worker's own modules too
    import grader.worker.server  # noqa: F401

    Zygote(socket.socket(fileno=int(config["control_fd"]))).serve()


if __name__ == "__main__":
    main(sys.argv)
