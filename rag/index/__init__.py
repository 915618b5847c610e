"""Stage 3, chunks to an index on disk, and keeping it fresh.

``build`` brings an index up to date with a docs folder (the one place that opens or updates one);
``store`` is the on-disk format, switched in atomically; ``embedding`` / ``onnx_embedding`` turn
text into vectors; ``ann`` picks the FAISS index; ``lexical`` is the BM25 side.
The command is ``rag index`` (``rag.commands.index``; ``python -m rag.index`` starts it too).

Nothing is imported here, so that ``python -m rag.index --help`` stays fast.
"""
