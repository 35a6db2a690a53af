"""The ``gonghui`` command: Django's management commands under the project's settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gonghui.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[:]
    # `gonghui demo` reads better than `gonghui load_demo` for a newcomer.
    if len(argv) > 1 and argv[1] == "demo":
        argv[1] = "load_demo"
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
