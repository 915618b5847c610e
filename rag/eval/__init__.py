"""Evaluation, apart from the runtime: SQuAD metrics (``metrics``), gold and SQuAD-format questions
(``gold``), running them through the pipeline (``harness``). ``rag eval`` (``rag.commands.evaluate``) is the command.

Nothing here is imported when answering a question.
"""
