"""``clawboo-host serve | plugins | install | uninstall | new-plugin``: the command line."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import socket
import sys

from .config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    FALLBACK_PORTS,
    HostConfig,
    is_loopback,
    resolve_data_dir,
)
from .isolation import make_undumpable
from .security import is_usable_access_token

log = logging.getLogger("clawboo_host")


class BindError(Exception):
    pass


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this; without it small responses wait on delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bind_socket(host: str, port: int | None) -> socket.socket:
    """Bind the API socket: an explicit port must be free; the default falls back upward."""
    if port is not None:
        try:
            return _listen(host, port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BindError(f"port {port} on {host} is already in use") from None
            raise BindError(f"cannot bind {host}:{port}: {exc.strerror or exc}") from None
    for candidate in FALLBACK_PORTS:
        try:
            return _listen(host, candidate)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise BindError(f"cannot bind {host}:{candidate}: {exc.strerror or exc}") from None
    raise BindError(
        f"ports {FALLBACK_PORTS.start}-{FALLBACK_PORTS.stop - 1} on {host} are all in use; "
        "pass --port"
    )


def port_number(raw: str) -> int:
    """``--port``: a TCP port, 0-65535 (0 picks a free one)."""
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, not {raw!r}")
    return value


def configure_logging() -> None:
    from .redaction import LIVE_SECRETS, RedactingFilter

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(LIVE_SECRETS.all))  # + every live run's key values
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = os.environ.get("CLAWBOO_LOG_LEVEL", "INFO").upper()
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")


def _prewarm_slow_lookups(env) -> None:
    """Ask npm for its global prefix (a ~0.1 s subprocess the first runtime list needs for
    binary lookups; cached per process) in a thread, while the app is being imported."""
    import threading

    from .plugin_api.binaries import npm_global_bin_dir

    threading.Thread(target=npm_global_bin_dir, args=(env,), daemon=True).start()


def serve(args: argparse.Namespace) -> int:
    env = os.environ
    host = args.host or DEFAULT_HOST
    token = env.get("CLAWBOO_ACCESS_TOKEN", "").strip()
    if not is_loopback(host) and env.get("CLAWBOO_ALLOW_INSECURE") != "1":
        if not token:
            print(
                f"clawboo-host: refusing to listen on non-loopback address {host} without "
                "CLAWBOO_ACCESS_TOKEN (set a token, or CLAWBOO_ALLOW_INSECURE=1 to override)",
                file=sys.stderr,
            )
            return 1
        if not is_usable_access_token(token):
            print(
                "clawboo-host: CLAWBOO_ACCESS_TOKEN may only contain letters, digits and . _ ~ - "
                f"(an unusable token would leave {host} unprotected)",
                file=sys.stderr,
            )
            return 1
    if args.database_url:
        from .board.database import display_url

        try:
            display_url(args.database_url)
        except Exception as exc:
            print(f"clawboo-host: --database-url: {exc}", file=sys.stderr)
            return 1
    configure_logging()
    _prewarm_slow_lookups(env)
    if not make_undumpable():
        log.warning("could not make the server undumpable: same-user processes can read its env")
    config = HostConfig(
        data_dir=resolve_data_dir(args.data_dir, env),
        bind_host=host,
        env=env,
        database_url_arg=args.database_url,
    )
    config.ensure_dirs()
    try:
        sock = bind_socket(host, args.port)
    except BindError as exc:
        print(f"clawboo-host: {exc}", file=sys.stderr)
        return 1
    config.port = sock.getsockname()[1]
    config.port_file.write_text(f"{config.port}\n", encoding="utf-8")

    import uvicorn

    from .app import create_app
    from .http_server import uvicorn_config

    app = create_app(config)
    host_services = app.state.host

    class HostServer(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            # Stop runs first, so in-flight run requests answer "aborted" and their process
            # trees are killed, instead of uvicorn waiting on them and then cancelling.
            host_services.executor.abort_all("host shutting down")
            await super().shutdown(sockets=sockets)

    server = HostServer(uvicorn_config(app))
    host_services.on_start_failure = lambda: setattr(server, "should_exit", True)
    shown = f"[{host}]" if ":" in host else host
    log.info(
        "clawboo-host serving http://%s:%s (data dir %s, board %s)",
        shown,
        config.port,
        config.data_dir,
        _shown_board(config.database_url),
    )
    _wait_for_children_with_pidfds()
    asyncio.run(server.serve(sockets=[sock]))
    return 1 if host_services.start_failed else 0


def _shown_board(url: str) -> str:
    """The board's URL for the log, its password masked. A SQLite URL has none: the default
    board is shown without importing SQLAlchemy, which the first request does not need."""
    if url.startswith("sqlite:"):
        return url
    from .board.database import display_url

    return display_url(url)


def _wait_for_children_with_pidfds() -> None:
    """What Python 3.12+ does by itself on Linux: learn that a child exited from its pidfd on
    the event loop. 3.11's default starts a thread per child to wait for it, and every run
    starts a few git processes."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:  # a kernel without pidfds (before 5.3), or a seccomp filter
        return
    asyncio.set_child_watcher(asyncio.PidfdChildWatcher())


def db_copy(args: argparse.Namespace) -> int:
    """Copy this host's board (default: the SQLite file in the data dir) to ``--to``."""
    from .board.copy import CopyRefused, copy_board
    from .board.database import display_url

    env = os.environ
    source = (
        args.source
        or HostConfig(data_dir=resolve_data_dir(args.data_dir, env), env=env).database_url
    )
    print(f"copying {display_url(source)} -> {display_url(args.to)}", file=sys.stderr)
    try:
        counts = copy_board(source, args.to, progress=ProgressBar(sys.stderr))
    except CopyRefused as exc:
        print(f"clawboo-host: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bad URL, an unreachable server: one line, no password
        print(f"clawboo-host: copy failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    total = sum(counts.values())
    print(f"copied {total} rows ({', '.join(f'{k} {v}' for k, v in counts.items())})")
    return 0


class ProgressBar:
    """``tasks      [##########----------]  120/240`` per table, redrawn in place on a TTY."""

    WIDTH = 30

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = stream.isatty()

    def __call__(self, table: str, done: int, total: int) -> None:
        filled = self.WIDTH if total == 0 else self.WIDTH * done // total
        line = f"{table:<11} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {done}/{total}"
        if self.tty:
            end = "\n" if done >= total else ""
            self.stream.write("\r" + line + end)
        elif done >= total:
            self.stream.write(line + "\n")
        self.stream.flush()


def plugins(args: argparse.Namespace) -> int:
    from .registry import build_registry

    logging.getLogger("clawboo_host.registry").setLevel(logging.CRITICAL)  # shown below instead
    registry = build_registry(env=os.environ)
    records = [r.to_json() for r in sorted(registry.records, key=lambda r: r.id)]
    if args.json:
        print(json.dumps({"plugins": records}, indent=2))
        return 0
    if not records:
        print("no runtime plugins found (entry-point group 'clawboo.runtimes')")
    for r in records:
        where = f"{r['distribution'] or '?'} {r['version'] or ''}".strip()
        if r["status"] == "ok":
            print(f"{r['id']:<16} ok     {where}  hooks: {', '.join(r['hooks'])}")
        else:
            print(f"{r['id']:<16} error  {where}  {r['error']}")
    return 0


def install(args: argparse.Namespace) -> int:
    from .plugin_install import RESTART_HINT, pip_install_args, run_pip

    if not args.specs and not args.editable:
        print("clawboo-host install: name at least one plugin (or -e PATH)", file=sys.stderr)
        return 2
    code = run_pip(
        pip_install_args(
            args.specs,
            upgrade=args.upgrade,
            editable=args.editable,
            force_reinstall=args.force_reinstall,
        )
    )
    if code == 0:
        print(RESTART_HINT, file=sys.stderr)
    return code


def uninstall(args: argparse.Namespace) -> int:
    from .plugin_install import RESTART_HINT, host_distributions_in, pip_uninstall_args, run_pip

    if host := host_distributions_in(args.distributions):
        print(
            f"clawboo-host uninstall: {', '.join(host)} is the host itself, not a plugin; "
            "remove the whole tool with `pipx uninstall clawboo-host` (or pip)",
            file=sys.stderr,
        )
        return 2
    code = run_pip(pip_uninstall_args(args.distributions, yes=args.yes))
    if code == 0:
        print(RESTART_HINT, file=sys.stderr)
    return code


class _VersionAction(argparse.Action):
    """``--version``: computed when asked (it lists the installed plugins), then exit."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from .plugin_install import version_report

        print(version_report())
        parser.exit()


def new_plugin(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .scaffold import ScaffoldError
    from .scaffold import new_plugin as write_plugin

    try:
        target = write_plugin(args.name, Path(args.dir) if args.dir else None)
    except (ScaffoldError, OSError) as exc:
        print(f"clawboo-host new-plugin: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {target}/ — next: pip install -e '{target}[test]' && (cd {target} && pytest)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clawboo-host", description=__doc__)
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the host version, its plugin API version and each runtime plugin's version",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="serve the Runtimes API")
    p_serve.add_argument("--host", default=None, help=f"bind address (default {DEFAULT_HOST})")
    p_serve.add_argument(
        "--port",
        type=port_number,
        default=None,
        help=(
            f"port (default {DEFAULT_PORT}, falling back up to {FALLBACK_PORTS.stop - 1}; 0 = any)"
        ),
    )
    p_serve.add_argument(
        "--data-dir", default=None, help="data dir (default $CLAWBOO_HOME or the user data dir)"
    )
    p_serve.add_argument(
        "--database-url",
        default=None,
        help=(
            "the board's database (default $CLAWBOO_DATABASE_URL, else the SQLite file in the "
            "data dir); postgresql://... lets several hosts share one board"
        ),
    )
    p_serve.set_defaults(func=serve)
    p_db = sub.add_parser("db", help="board database tools")
    db_sub = p_db.add_subparsers(dest="db_command", required=True)
    p_copy = db_sub.add_parser("copy", help="copy the board into another database")
    p_copy.add_argument("--to", required=True, help="target database URL (postgresql://...)")
    p_copy.add_argument(
        "--from",
        dest="source",
        default=None,
        help="source database URL (default: the SQLite board in the data dir)",
    )
    p_copy.add_argument(
        "--data-dir", default=None, help="data dir (default $CLAWBOO_HOME or the user data dir)"
    )
    p_copy.set_defaults(func=db_copy)
    p_plugins = sub.add_parser("plugins", help="list discovered runtime plugins")
    p_plugins.add_argument("--json", action="store_true", help="machine-readable output")
    p_plugins.set_defaults(func=plugins)
    p_install = sub.add_parser(
        "install",
        help="install runtime plugins into the host's environment (pip install)",
        description="Install runtime plugins with pip into the environment clawboo-host runs "
        "from. Restart a running server to load them.",
    )
    p_install.add_argument("specs", nargs="*", metavar="SPEC", help="pip requirement or file")
    p_install.add_argument("-U", "--upgrade", action="store_true", help="upgrade to the newest")
    p_install.add_argument(
        "-e",
        "--editable",
        action="append",
        default=[],
        metavar="PATH",
        help="install a plugin from a local checkout in editable mode (repeatable)",
    )
    p_install.add_argument(
        "--force-reinstall", action="store_true", help="reinstall even if up to date"
    )
    p_install.set_defaults(func=install)
    p_uninstall = sub.add_parser(
        "uninstall",
        help="remove runtime plugins from the host's environment (pip uninstall)",
        description="Uninstall runtime plugins (by distribution name) with pip from the "
        "environment clawboo-host runs from. Restart a running server to drop them.",
    )
    p_uninstall.add_argument("distributions", nargs="+", metavar="DIST")
    p_uninstall.add_argument("-y", "--yes", action="store_true", help="do not ask to confirm")
    p_uninstall.set_defaults(func=uninstall)
    p_new = sub.add_parser("new-plugin", help="write a ready runtime-plugin distribution")
    p_new.add_argument("name", help="the runtime id, e.g. acme-agent")
    p_new.add_argument("--dir", default=None, help="where (default ./clawboo-runtime-NAME)")
    p_new.set_defaults(func=new_plugin)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
