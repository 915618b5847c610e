"""The browser chat over your documents: ``python -m ui.app``."""

from rag.config import set_offline_env

set_offline_env()  # before anyone imports gradio: no analytics, no model downloads
