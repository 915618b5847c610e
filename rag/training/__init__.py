"""Training the neural reader, apart from the runtime (needs torch; never imported when answering).

``python -m rag.training.train`` trains and exports a reader folder; ``data`` builds the examples
and negatives; ``heldout`` scores a reader and calibrates its threshold on held-out questions;
``card`` writes the model card from the run's summary.
"""
