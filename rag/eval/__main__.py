"""python -m rag.eval: the old spelling of ``rag eval``, kept working (the command is ``rag.commands.evaluate``).

It imports nothing: the command is started by name, as the ``rag`` script starts it, so this stage
never depends on the command line above it.
"""

import importlib
import sys

if __name__ == "__main__":
    sys.exit(importlib.import_module("rag.commands.evaluate").main(prog="python -m rag.eval"))
