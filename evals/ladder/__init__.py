"""The ladder lab: a reproducible ladder of small Llama models trained on the Python stdlib.

Corpus, tokenizer, tasks, training, evaluation and export live in separate modules; the
``capcast ladder`` command drives them from one config file.
"""
