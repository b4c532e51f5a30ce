"""The ``crmkit`` command: a thin driving adapter over the library.

``crmkit db upgrade --url URL`` applies crmkit's migrations; ``crmkit db current --url URL``
shows where a database stands. The URL may also come from ``CRMKIT_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from crmkit.errors import CrmError

__all__ = ["main"]

URL_ENV = "CRMKIT_DATABASE_URL"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crmkit", description="crmkit command line tools")
    commands = parser.add_subparsers(dest="group", required=True)
    db = commands.add_parser("db", help="manage crmkit's database schema")
    actions = db.add_subparsers(dest="action", required=True)
    for name, text in (
        ("upgrade", "apply crmkit's migrations up to the latest (or --revision)"),
        ("current", "print the migration the database is at"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--url",
            default=os.environ.get(URL_ENV),
            help=f"SQLAlchemy database URL (default: ${URL_ENV})",
        )
        if name == "upgrade":
            action.add_argument("--revision", default="head", help="target (default: head)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    if not args.url:
        print(f"crmkit: give --url or set {URL_ENV}", file=sys.stderr)
        return 2
    try:
        from crmkit.adapters.sqlalchemy import current_revision, masked, open_engine, upgrade
        from crmkit.adapters.sqlalchemy.sqlite_files import require_sqlite_file
    except ImportError:
        print(
            "crmkit: the SQL adapter is not installed: pip install 'crmkit[sql]'", file=sys.stderr
        )
        return 2
    try:
        if args.action == "current":  # only reads: a mistyped path must not create a file
            require_sqlite_file(args.url)
        engine = open_engine(args.url)
        try:
            if args.action == "upgrade":
                upgrade(engine, args.revision)
            revision = current_revision(engine)
        finally:
            engine.dispose()
    except CrmError as error:
        print(f"crmkit: {error}", file=sys.stderr)
        return 1
    print(f"{masked(args.url)}: crmkit schema at revision {revision or '(none)'}")
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
