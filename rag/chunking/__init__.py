"""Stage 2, documents to chunks: token-bounded pieces of a document with exact character offsets (``chunker``)."""

from rag.chunking.chunker import ChunkConfig, file_chunks, iter_chunks

__all__ = ["ChunkConfig", "file_chunks", "iter_chunks"]
