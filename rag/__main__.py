"""python -m rag: the ``rag`` command (``rag.commands``)."""

import importlib
import sys

if __name__ == "__main__":
    sys.exit(importlib.import_module("rag.commands").main())
