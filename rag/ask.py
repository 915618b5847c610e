"""python -m rag.ask: the old spelling of ``rag ask``, kept working (the command is ``rag.commands.ask``).

It imports nothing: the command is started by name, as the ``rag`` script starts it, so this stage
never depends on the command line above it.
"""

import importlib
import sys

if __name__ == "__main__":
    sys.exit(importlib.import_module("rag.commands.ask").main(prog="python -m rag.ask"))
