"""The PySide6 desktop application: widgets and view models over irt_desktop.library and .retrieval.

Thin by design (ARCHITECTURE.md): every decode, embedding, FAISS call or training step runs off the GUI
thread (gui.tasks, gui.workers); this package holds layout, state shown to the user, and the wiring
between them. Nothing here imports torch at module level, so the window paints before the model stack
loads.
"""
