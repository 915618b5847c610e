"""Offline extractive question answering over your own documents, with exact citations."""

from rag.config import set_offline_env

set_offline_env()

__version__ = "0.1.0"
