"""Runs example files as scripts, each in a forked copy of one warmed-up interpreter.

``python _forkserver.py`` imports the heavy libraries once, then reads one JSON command
per line on stdin (``{"path", "cwd", "env", "out", "err"}``, plus ``"module"`` and
``"argv"`` for ``python -m module argv...``), forks, and in the child runs the file (or
the module) as ``__main__`` in ``cwd`` with exactly ``env`` as its environment and
stdout/stderr sent to the ``out``/``err`` files; it answers each command with the
child's exit status on stdout. The child starts from the state just after the imports,
so examples cannot see each other, as separate interpreters could not; only the import
time is shared.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from typing import Any

# What the examples import: paid once here instead of once per example.
import langchain_core.language_models  # noqa: F401
import llama_index.core  # noqa: F401

import langchain_powertokens  # noqa: F401
import llama_index_powertokens  # noqa: F401
import powertokens.emulator  # noqa: F401


def _child(command: dict[str, Any]) -> None:
    os.chdir(command["cwd"])
    os.environ.clear()
    os.environ.update(command["env"])
    with open(command["out"], "w") as out, open(command["err"], "w") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        sys.stderr = os.fdopen(2, "w", closefd=False)
        sys.path[0] = command["cwd"]
        status = 0
        try:
            if "module" in command:
                sys.argv = [command["module"], *command["argv"]]
                runpy.run_module(command["module"], run_name="__main__", alter_sys=True)
            else:
                sys.argv = [command["path"]]
                runpy.run_path(command["path"], run_name="__main__")
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            traceback.print_exc()
            status = 1
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def main() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(command)
        _, status = os.waitpid(pid, 0)
        print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)


if __name__ == "__main__":
    main()
