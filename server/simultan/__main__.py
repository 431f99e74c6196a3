"""The ``simultan`` command: serve an event, run the demo, check a config, issue a join link."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from aiohttp import web

from simultan.errors import ConfigError
from simultan.eventdef import interpretation_gaps, load_event
from simultan.resources import event_file
from simultan.settings import Settings, load_settings

log = logging.getLogger("simultan")


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    overrides: dict[str, object] = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "event", None):
        overrides["event_file"] = Path(args.event)
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = args.port
    return load_settings(getattr(args, "config", None), **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    from simultan.app import create_app

    settings = _settings(args)
    defn = load_event(event_file(settings.event_file))
    app = create_app(settings, defn)  # refuses a missing or weak secret_key
    print(f"Simultan serving {defn.event.title!r} on {settings.base_url}", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None, handle_signals=True)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.suffix == ".toml":
        settings = load_settings(path)
        defn = load_event(event_file(settings.event_file))
        print(f"{path}: settings OK; event {defn.event.id!r} OK")
    else:
        defn = load_event(path)
        print(
            f"{path}: OK: {defn.event.title!r}, {len(defn.agenda)} agenda items, "
            f"languages {', '.join(defn.languages)}"
        )
        for warning in interpretation_gaps(path):
            print(f"warning: {warning}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from simultan.store.database import current_revision, migrate

    settings = _settings(args)
    before = current_revision(settings.database_url)
    migrate(settings.database_url, args.revision)
    after = current_revision(settings.database_url)
    print(f"{settings.database_url}: schema at revision {after} (was {before or 'empty'})")
    return 0


def cmd_issue_link(args: argparse.Namespace) -> int:
    from simultan.demo import issue_link

    settings = _settings(args)
    defn = load_event(event_file(settings.event_file))
    link = asyncio.run(
        issue_link(
            settings, defn, role=args.role, name=args.name, email=args.email, booth=args.booth
        )
    )
    print(link)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from simultan.demo import run_demo

    return run_demo(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simultan", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve an event")
    serve.add_argument("--config", help="settings file (TOML); SIMULTAN_* variables also apply")
    serve.add_argument("--event", help="event definition (YAML), overrides the settings")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="run the seeded seminar with synthetic sources")
    demo.add_argument(
        "--event", default="iuc-city-to-city", help="a file, or a seeded event's name"
    )
    demo.add_argument("--host", help="default: SIMULTAN_HOST or 127.0.0.1")
    demo.add_argument("--port", type=int, help="default: SIMULTAN_PORT or 8080")
    demo.add_argument("--no-media", action="store_true", help="control plane only")
    demo.add_argument("--seconds", type=float, default=None, help="stop after this long")
    demo.set_defaults(func=cmd_demo)

    check = sub.add_parser("check-config", help="validate an event definition or settings file")
    check.add_argument("file")
    check.set_defaults(func=cmd_check_config)

    db = sub.add_parser("db", help="the database schema (Alembic revisions)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the revisions (serve also does at start)")
    upgrade.add_argument("--config", help="settings file (TOML); SIMULTAN_* variables also apply")
    upgrade.add_argument("--revision", default="head", help="default: the newest")
    upgrade.set_defaults(func=cmd_db_upgrade)

    link = sub.add_parser("issue-link", help="create (or find) a person and print a join link")
    link.add_argument("--config")
    link.add_argument("--event")
    link.add_argument(
        "--role",
        required=True,
        choices=["participant", "panelist", "interpreter", "moderator", "organizer"],
    )
    link.add_argument("--name", required=True)
    link.add_argument("--email", required=True)
    link.add_argument("--booth")
    link.set_defaults(func=cmd_issue_link)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # Alembic logs every plugin it loads at INFO; keep the console to what an organizer needs.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
