"""The paper's models: features, classical baselines, GNNs trained from scratch and uMLIP fine-tuning.
They may use ``reference`` and the public API of ``scoring``, never ``page``."""
