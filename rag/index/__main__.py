"""python -m rag.index: the old spelling of ``rag index``, kept working (the command is ``rag.commands.index``).

It imports nothing: the command is started by name, as the ``rag`` script starts it, so this stage
never depends on the command line above it.
"""

import importlib
import sys

if __name__ == "__main__":
    sys.exit(importlib.import_module("rag.commands.index").main(prog="python -m rag.index"))
