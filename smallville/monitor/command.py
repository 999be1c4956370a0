"""Starting the monitor: `smallville monitor`, and `--monitor` beside a run.

Owns the command line of the monitor and the rules for where it may listen: 127.0.0.1 unless `--host`
names another address, which also needs `--token` (or SMALLVILLE_MONITOR_TOKEN), at least 16 characters
of letters, digits and `-._~`. A bad flag is one line and exit 2, like every smallville refusal.

`--monitor` (on `run`, `resume`, and whatever calls `add_monitor_flag`) starts the monitor in a process of
its own beside the run (a thread would share the run's interpreter lock): on 127.0.0.1, on the first free
port from 8765, serving the folder that holds the run's save, so the run's siblings show too. It prints the
address, stops when the run's process exits, and stops by itself if that process dies (`--watch-pid`).
This module imports neither FastAPI nor uvicorn until a monitor is really started.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ipaddress
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from smallville.errors import ConfigError, SmallvilleError

DEFAULT_PORT = 8765
TOKEN_ENV = "SMALLVILLE_MONITOR_TOKEN"
_TOKEN = re.compile(r"^[A-Za-z0-9\-._~]{16,256}$")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r}: give a port from 1 to 65535")
    return port


def add_monitor_flag(parser: argparse.ArgumentParser) -> None:
    """`--monitor` on a command that drives runs (run, resume; eval diffusion and game may add it)."""
    parser.add_argument("--monitor", action="store_true",
                        help="serve the monitor (a web page of the run's progress and servers) beside it on "
                             f"127.0.0.1, first free port from {DEFAULT_PORT}, and print its address")


def _one_line_error(parser: argparse.ArgumentParser) -> None:
    """argparse prints the usage and then the error; a refusal here is one line, as everywhere in smallville."""
    def error(message: str) -> NoReturn:
        parser.exit(2, f"error: {parser.prog}: {message}\n")
    parser.error = error  # type: ignore[method-assign]


def monitor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--saves", help="the folder holding the saves (default: ./saves)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1; another needs --token)")
    parser.add_argument("--token", help=f"required of every request (or set {TOKEN_ENV}); at least 16 letters, "
                                        "digits or -._~")
    _one_line_error(parser)


def add_monitor_command(sub: Any) -> argparse.ArgumentParser:
    """The `monitor` subcommand on smallville's subparsers."""
    parser = sub.add_parser("monitor", help="a web page of the runs and studies on this machine (read-only)")
    monitor_arguments(parser)
    parser.set_defaults(func=cmd_monitor)
    return parser


@contextlib.contextmanager
def _quiet_socket(host: str, port: int) -> Any:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        yield sock
    finally:
        sock.close()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, token: str | None) -> str | None:
    """The token to require (None: none), or a `ConfigError` naming the flag."""
    token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
    if token is not None and not _TOKEN.match(token):
        raise ConfigError("--token: give at least 16 characters, letters, digits or -._~ only")
    if not is_loopback(host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if not re.match(r"^[A-Za-z0-9.\-]{1,253}$", host):
                raise ConfigError(f"--host {host!r}: give an address such as 0.0.0.0 or 10.0.0.5") from None
        if token is None:
            raise ConfigError(f"--host {host}: serving beyond this machine needs --token (or {TOKEN_ENV}); "
                              "the page shows every run's progress and servers")
    return token


def _can_bind(host: str, port: int) -> str | None:
    """None if `host:port` is free, else why not."""
    with _quiet_socket(host, port) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def serve(saves: Path, host: str, port: int, token: str | None, *, watch_pid: int | None = None,
          announce: bool = True) -> None:
    """Serve until Ctrl-C (or until `watch_pid` is gone)."""
    import uvicorn

    from smallville.monitor.app import create_app

    why = _can_bind(host, port)
    if why is not None:
        raise ConfigError(f"--port {port}: cannot listen on {host}:{port} ({why}); choose another --port")
    app = create_app(saves, token=token, loopback=is_loopback(host))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           lifespan="off", timeout_graceful_shutdown=1))
    if watch_pid is not None:
        threading.Thread(target=_watch, args=(server, watch_pid), daemon=True, name="watch-pid").start()
    if announce:
        print(f"monitor: {address(host, port, token)}  ({saves}; read-only; Ctrl-C to stop)", flush=True)
    server.run()


def _watch(server: Any, pid: int) -> None:
    """Stop the server once the run it was started beside is gone (killed too: then no atexit ran)."""
    while not server.should_exit:
        time.sleep(1.0)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            server.should_exit = True
        except PermissionError:
            pass
        if os.getppid() != pid:
            server.should_exit = True


def address(host: str, port: int, token: str | None = None, run: str | None = None) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    query = f"?token={token}" if token else ""
    return f"http://{shown}:{port}/{query}" + (f"#run={run}" if run else "")


def cmd_monitor(args: argparse.Namespace) -> int:
    token = check_listen(args.host, args.token)
    saves = Path(args.saves) if args.saves else Path("saves")
    if args.saves and not saves.is_dir():
        raise ConfigError(f"--saves {saves}: no such folder")
    with contextlib.suppress(KeyboardInterrupt):
        serve(saves, args.host, args.port, token, watch_pid=getattr(args, "watch_pid", None),
              announce=not getattr(args, "quiet", False))
    return 0


def free_port(host: str = "127.0.0.1", first: int = DEFAULT_PORT, tries: int = 50) -> int:
    for port in range(first, first + tries):
        if _can_bind(host, port) is None:
            return port
    with _quiet_socket(host, 0) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def monitor_beside(args: argparse.Namespace, save_dir: Path) -> subprocess.Popen[bytes] | None:
    """With `--monitor`: start the monitor beside this process, serving the folder that holds `save_dir`,
    print its address, and stop it when this process exits. Without: nothing."""
    if not getattr(args, "monitor", False):
        return None
    saves = Path(save_dir).resolve().parent
    port = free_port()
    command = [sys.executable, "-m", "smallville.monitor", "--saves", str(saves), "--port", str(port),
               "--watch-pid", str(os.getpid()), "--quiet"]
    try:
        # a session of its own: the Ctrl-C that asks the run to stop must not close the page that shows it stopping
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise SmallvilleError(f"--monitor: cannot start the monitor ({exc.strerror or exc})") from None
    atexit.register(_stop, proc)
    print(f"monitor: {address('127.0.0.1', port, run=Path(save_dir).name)}", flush=True)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    """`python -m smallville.monitor`: the monitor alone (what `--monitor` starts)."""
    parser = argparse.ArgumentParser(prog="python -m smallville.monitor",
                                     description="A web page of the runs and studies on this machine.")
    monitor_arguments(parser)
    parser.add_argument("--watch-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        return cmd_monitor(args)
    except SmallvilleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
