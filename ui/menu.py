"""On a phone, Documents and Settings sit behind a menu: a *Menu* button beside the title opens the
side panel (*Search in*, Settings, Documents) over the page, and *Close* (or Escape) puts it away,
so that the first screen holds the chat, the question box and the last answer. On a wider screen
the button is not shown and the panel stays beside the chat.

Plain buttons and a few lines of page script, with no server round trip, so that the menu opens at
once even while a question is being answered. The menu's state is one attribute of the panel,
``data-menu="open"`` (Gradio scopes the page's CSS inside its own container, so no rule could read
a class on ``<body>``), and each button's ``aria-expanded`` says it to a screen reader.
"""

from __future__ import annotations

import gradio as gr

NARROW = "640px"  # at most this wide, the page is laid out for a phone
MENU_BUTTON = (
    '<button class="menu-button" type="button" aria-controls="side-panel" aria-expanded="false" '
    'title="Documents and settings">☰ Menu</button>'
)
MENU_HEAD = (
    '<div class="menu-head"><strong>Documents and settings</strong>'
    '<button class="menu-close" type="button" aria-controls="side-panel">✕ Close</button></div>'
)
MENU_CSS = """
#intro .menu-button, #menu-head { display: none; }
@media (max-width: NARROW) {  /* a phone: Search in, Settings and Documents behind the menu */
  #intro .menu-button, #menu-head .menu-close {
    font: inherit; font-size: var(--text-md); font-weight: 700; cursor: pointer;
    padding: 0.3rem 0.8rem; border-radius: var(--button-large-radius, 8px);
    color: var(--button-secondary-text-color); background: var(--button-secondary-background-fill);
    border: 1px solid var(--button-secondary-border-color, var(--border-color-primary));
  }
  #intro .menu-button { display: inline-block; float: right; margin-left: 0.5rem; }
  #side-panel { display: none !important; }
  #side-panel[data-menu="open"] {  /* one column that scrolls: a long document list must not wrap sideways */
    display: flex !important; flex-flow: column nowrap !important; position: fixed; inset: 0; z-index: 1000;
    margin: 0; padding: 0.75rem; overflow-y: auto; background: var(--body-background-fill);
  }
  #side-panel[data-menu="open"] > * { flex-shrink: 0; }  /* each part at its own height; the panel scrolls */
  #side-panel[data-menu="open"] #menu-head { display: block; }
  #menu-head .menu-head { display: flex; align-items: center; justify-content: space-between; gap: 0.5rem; }
}
""".replace("NARROW", NARROW)
# Spliced into the page's start-up script (``ui.app.PAGE_JS``): open, close, Escape; focus moves to
# the button that puts the menu back, and back to Menu when it closes.
MENU_JS = """
  const isOpen = () => document.querySelector('#side-panel[data-menu="open"]') !== null;
  const menu = (open) => {
    const panel = document.getElementById('side-panel');
    if (open && panel) panel.setAttribute('data-menu', 'open');
    else if (panel) panel.removeAttribute('data-menu');
    document.querySelectorAll('.menu-button').forEach((b) => b.setAttribute('aria-expanded', String(open)));
    const next = document.querySelector(open ? '.menu-close' : '.menu-button');
    if (next) next.focus();
  };
  document.addEventListener('click', (e) => {
    const el = e.target instanceof Element ? e.target : null;
    if (el && el.closest('.menu-button')) {
      e.preventDefault();
      menu(!isOpen());
    } else if (el && el.closest('.menu-close')) {
      e.preventDefault();
      menu(false);
    }
  }, true);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && isOpen()) menu(false);
  });
"""


def menu_head() -> gr.HTML:
    """The open menu's heading, with its *Close* button: the first thing in the side panel, shown
    only on a phone while the menu is open."""
    return gr.HTML(MENU_HEAD, js_on_load=None, elem_id="menu-head", padding=False)
