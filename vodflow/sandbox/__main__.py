"""Run the provider sandbox, or write file drops: ``python -m vodflow.sandbox [serve] --port 8765 --state-dir DIR``.

Subcommands (``serve`` is the default, so ``python -m vodflow.sandbox --port 8765`` still serves):

* ``serve``: the HTTP sandbox in the foreground. Stops cleanly (listening socket and connections closed, state
  already on disk) on SIGINT and SIGTERM, exit status 0, so the local stack can stop it like any other service.
* ``drop-harbor --dir D --rows N [--offset K] [--revision R] [--bom] [--fault KIND] [--clean] [--no-bad-rows]``:
  one harbor CSV drop; ``drop-harbor --dir D --large-bytes B`` (or ``--large-rows N``): a big valid CSV, streamed.
* ``drop-meridian --dir D --count N [--offset K] [--versions V] [--fault KIND] [--clean] [--no-bad-packages]``:
  ADI XML files, one per package version.

Drops print one JSON object per written file on stdout (``path`` and what was done to it) and exit 0; bad
arguments exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from vodflow.sandbox import harbor, meridian
from vodflow.sandbox.atlas import ATLAS_DEFAULT_SIZE, ATLAS_MAX_SIZE
from vodflow.sandbox.catalogue import LUMINA_DEFAULT_SIZE, LUMINA_MAX_SIZE
from vodflow.sandbox.harbor import HARBOR_DEFAULT_ROWS, HarborFault
from vodflow.sandbox.imperfect import Imperfection
from vodflow.sandbox.meridian import MERIDIAN_DEFAULT_SIZE, MERIDIAN_MAX_SIZE, FileFault
from vodflow.sandbox.server import SandboxServer

logger = logging.getLogger("vodflow.sandbox")
DROP_COMMANDS = ("drop-harbor", "drop-meridian")
WARM_UP_DELAY_S = 1.0


class _Stop(Exception):
    """Raised by the SIGTERM handler to leave ``serve_forever`` the way Ctrl-C does."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def build_parser() -> argparse.ArgumentParser:
    """The ``serve`` command line (the default), documented for ``--help``."""
    parser = argparse.ArgumentParser(
        prog="python -m vodflow.sandbox",
        description=(
            "Local stand-in for vodflow's content providers with deterministic data and fault injection: lumina "
            "(JSON films, page numbers), atlas (JSON series documents, page tokens), meridian (ADI 1.1 XML "
            "packages) and the supply-chain events stream. Endpoints: GET /healthz, GET /lumina/v1/titles, "
            "GET /atlas/v2/catalog, GET /meridian/v1/packages[/{id}/{version}.xml], GET /events/v1/events, "
            "POST /admin/publish, GET|POST|DELETE /admin/faults, GET /admin/requests, GET /admin/bad-items, "
            "POST /admin/reset. Stops on SIGINT or SIGTERM."
        ),
        epilog=(
            "Other subcommands: 'drop-harbor' (harbor CSV drops) and 'drop-meridian' (ADI XML files); see "
            "'python -m vodflow.sandbox drop-harbor --help'. 'serve' is the default subcommand."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback only)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port to bind, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="directory where published/changed items are kept across restarts (default: in memory only)",
    )
    parser.add_argument(
        "--lumina-size",
        type=int,
        default=LUMINA_DEFAULT_SIZE,
        help=f"films in lumina's initial catalogue, 1..{LUMINA_MAX_SIZE} (default: %(default)s)",
    )
    parser.add_argument(
        "--atlas-size",
        type=int,
        default=ATLAS_DEFAULT_SIZE,
        help=f"series in atlas's initial catalogue, 1..{ATLAS_MAX_SIZE} (default: %(default)s)",
    )
    parser.add_argument(
        "--meridian-size",
        type=int,
        default=MERIDIAN_DEFAULT_SIZE,
        help=f"packages in meridian's initial catalogue, 1..{MERIDIAN_MAX_SIZE} (default: %(default)s)",
    )
    parser.add_argument(
        "--harbor-rows",
        type=int,
        default=HARBOR_DEFAULT_ROWS,
        help="rows of harbor's default drop: the events stream covers them (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="(default: %(default)s)"
    )
    return parser


def _imperfections(args: argparse.Namespace) -> list[Imperfection] | None:
    return [] if args.clean else None


def build_drop_parser(command: str) -> argparse.ArgumentParser:
    """The command line of ``drop-harbor`` or ``drop-meridian``."""
    parser = argparse.ArgumentParser(
        prog=f"python -m vodflow.sandbox {command}",
        description=(
            "Write a deterministic harbor CSV drop (write to a temporary name, then rename into place)."
            if command == "drop-harbor"
            else "Write deterministic meridian ADI 1.1 XML files, one per package version (write, then rename)."
        ),
    )
    parser.add_argument("--dir", type=Path, required=True, help="target folder (created if missing)")
    parser.add_argument("--offset", type=int, default=0, help="first position in the provider's region (default: 0)")
    parser.add_argument("--clean", action="store_true", help="no title imperfections (casing, typos, suffixes...)")
    if command == "drop-harbor":
        parser.add_argument("--rows", type=int, default=HARBOR_DEFAULT_ROWS, help="data rows (default: %(default)s)")
        parser.add_argument("--revision", type=int, default=0, help="snapshot after R rounds of changes (default: 0)")
        parser.add_argument("--bom", action="store_true", help="start the file with a UTF-8 byte order mark")
        parser.add_argument("--fault", choices=[k.value for k in HarborFault], help="break the file this way")
        parser.add_argument("--no-bad-rows", action="store_true", help="leave out the ~1%% deliberately bad rows")
        parser.add_argument("--name", help="file name (default: harbor_r<rev>_o<offset>_n<rows>[_<fault>].csv)")
        size = parser.add_mutually_exclusive_group()
        size.add_argument("--large-bytes", type=int, help="instead: a big valid file of at least this many bytes")
        size.add_argument("--large-rows", type=int, help="instead: a big valid file of this many rows")
    else:
        parser.add_argument("--count", type=int, default=50, help="packages (default: %(default)s)")
        parser.add_argument("--versions", type=int, default=1, help="versions per package, 1.0 first (default: 1)")
        parser.add_argument("--fault", choices=[k.value for k in FileFault], help="break the first file this way")
        parser.add_argument("--no-bad-packages", action="store_true", help="leave out the ~1%% bad packages")
    return parser


def drop_main(argv: Sequence[str]) -> int:
    """Run ``drop-harbor`` or ``drop-meridian``; prints one JSON line per file written."""
    command, rest = argv[0], argv[1:]
    args = build_drop_parser(command).parse_args(rest)
    try:
        if command == "drop-harbor" and (args.large_bytes or args.large_rows):
            files = [
                harbor.write_large_drop(args.dir, target_bytes=args.large_bytes, rows=args.large_rows, bom=args.bom)
            ]
            lines = [f.to_json() for f in files]
        elif command == "drop-harbor":
            drop = harbor.write_drop(
                args.dir,
                args.rows,
                offset=args.offset,
                revision=args.revision,
                bom=args.bom,
                imperfections=_imperfections(args),
                bad_rows=not args.no_bad_rows,
                fault=args.fault,
                name=args.name,
            )
            lines = [drop.to_json()]
        else:
            written = meridian.write_packages(
                args.dir,
                args.count,
                offset=args.offset,
                versions=args.versions,
                fault=args.fault,
                imperfections=_imperfections(args),
                bad_packages=not args.no_bad_packages,
            )
            lines = [f.to_json() for f in written]
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"{command}: {exc}\n")
        return 2
    sys.stdout.write("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM, or write a drop; returns the exit status.

    Serving: 0 on a clean stop, 2 if the server cannot start.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in DROP_COMMANDS:
        return drop_main(arguments)
    if arguments and arguments[0] == "serve":
        arguments = arguments[1:]
    args = build_parser().parse_args(arguments)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = SandboxServer(
            args.host,
            args.port,
            args.state_dir,
            args.lumina_size,
            atlas_size=args.atlas_size,
            meridian_size=args.meridian_size,
            harbor_rows=args.harbor_rows,
        )
    except (OSError, ValueError) as exc:
        logger.error("cannot start the sandbox: %s", exc)
        return 2
    # Both signals explicitly: a process started with SIGINT ignored (a background job, nohup) inherits that,
    # and Python then installs no KeyboardInterrupt handler of its own.
    previous = {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    logger.info(
        "sandbox listening on %s (lumina: %d films, atlas: %d series, meridian: %d packages, state: %s)",
        server.url,
        args.lumina_size,
        args.atlas_size,
        args.meridian_size,
        args.state_dir or "in memory",
    )
    # build the other providers in the background once the server is up: first requests to them are then not slow
    warm_up = threading.Timer(WARM_UP_DELAY_S, server.sandbox.warm_up)
    warm_up.daemon = True
    warm_up.start()
    try:
        server.serve_forever()
    except (KeyboardInterrupt, _Stop) as exc:
        logger.info("sandbox stopping (%s)", exc or "SIGINT")
    finally:
        warm_up.cancel()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
