"""Run the provider sandbox in the foreground: ``python -m vodflow.sandbox --port 8765 --state-dir DIR``.

Stops cleanly (listening socket and connections closed, state already on disk) on SIGINT and SIGTERM, exit
status 0, so the local stack can stop it like any other service.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from vodflow.sandbox.catalogue import LUMINA_DEFAULT_SIZE, LUMINA_MAX_SIZE
from vodflow.sandbox.server import SandboxServer

logger = logging.getLogger("vodflow.sandbox")


class _Stop(Exception):
    """Raised by the SIGTERM handler to leave ``serve_forever`` the way Ctrl-C does."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def build_parser() -> argparse.ArgumentParser:
    """The command line, documented for ``--help``."""
    parser = argparse.ArgumentParser(
        prog="python -m vodflow.sandbox",
        description=(
            "Local stand-in for vodflow's content providers (lumina: a paginated JSON API of films) with "
            "deterministic data and fault injection. Endpoints: GET /healthz, GET /lumina/v1/titles, "
            "POST /admin/publish, GET|POST|DELETE /admin/faults, GET /admin/requests, GET /admin/bad-items, "
            "POST /admin/reset. Stops on SIGINT or SIGTERM."
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
        help="directory where published/changed films are kept across restarts (default: in memory only)",
    )
    parser.add_argument(
        "--lumina-size",
        type=int,
        default=LUMINA_DEFAULT_SIZE,
        help=f"films in lumina's initial catalogue, 1..{LUMINA_MAX_SIZE} (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="(default: %(default)s)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit status (0 on a clean stop, 2 if the server cannot start)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = SandboxServer(args.host, args.port, args.state_dir, args.lumina_size)
    except (OSError, ValueError) as exc:
        logger.error("cannot start the sandbox: %s", exc)
        return 2
    previous = signal.signal(signal.SIGTERM, _stop)
    logger.info(
        "sandbox listening on %s (lumina: %d films, state: %s)",
        server.url,
        args.lumina_size,
        args.state_dir or "in memory",
    )
    try:
        server.serve_forever()
    except (KeyboardInterrupt, _Stop) as exc:
        logger.info("sandbox stopping (%s)", exc or "SIGINT")
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
