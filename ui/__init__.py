"""The browser chat over your documents: ``rag ui`` (also ``python -m ui.app``)."""

from rag.config import set_offline_env

set_offline_env()  # before anyone imports gradio: no analytics, no model downloads
