"""``gonghui load_demo`` (or ``gonghui demo``): the demo province of Anhui.

Builds regions, 129 service centres with 408 staff, the union tree, workers, households
and hardship files in every status, then prints the demo logins. Running it again with a
demo present changes nothing and just prints the logins; ``--reset`` rebuilds.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gonghui.demo import build, reset, summary


class Command(BaseCommand):
    help = "Load the demo province (Anhui): unions, staff, workers, households, hardship files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", type=int, default=100_000, help="workers (default 100000)")
        parser.add_argument(
            "--files", type=int, default=None, help="hardship files (default: size / 20)"
        )
        parser.add_argument("--seed", type=int, default=2024, help="random seed (default 2024)")
        parser.add_argument("--reset", action="store_true", help="remove the demo data first")

    def handle(self, *args: Any, **opts: Any) -> None:
        options = build.Options(
            size=opts["size"], files=opts["files"], seed=opts["seed"], progress=sys.stderr.isatty()
        )
        try:
            build.check(options)
        except build.DemoError as exc:
            raise CommandError(str(exc)) from None
        root = reset.demo_root()
        if root is not None and not opts["reset"]:
            self.stdout.write("The demo province is already loaded (use --reset to rebuild it).")
        else:
            root = self._build(options, root)
        self._report(root, options)

    def _build(self, options: build.Options, old: Any) -> Any:
        started = time.monotonic()
        if old is not None:
            self.stdout.write("Removing the demo province...")
            reset.wipe(old)
        self.stdout.write(
            f"Building the demo province: {options.size:,} workers, "
            f"{options.file_count:,} hardship files (seed {options.seed})..."
        )
        root = build.build(options)
        self.stdout.write(f"Built in {time.monotonic() - started:.1f} s.")
        return root

    def _report(self, root: Any, options: build.Options) -> None:
        counts = summary.summarise(root)
        for line in summary.counts_text(counts):
            self.stdout.write(line)
        if counts.workers != options.size:
            self.stdout.write(
                f"(The demo present has {counts.workers:,} workers, not "
                f"{options.size:,}; run with --reset to rebuild it at that size.)"
            )
        for line in summary.logins_text():
            self.stdout.write(line)
