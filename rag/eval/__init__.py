"""Evaluation, apart from the runtime: SQuAD metrics (``metrics``), gold and SQuAD-format questions
(``gold``), running them through the pipeline (``harness``). ``python -m rag.eval`` is the command.

Nothing here is imported when answering a question.
"""
