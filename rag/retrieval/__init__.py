"""Stage 4, question to passages: hybrid dense + BM25 search (``retriever``) and the text around
each passage that the reader may see (``context``)."""
