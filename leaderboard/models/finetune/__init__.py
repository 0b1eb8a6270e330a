"""Fine-tuning universal potentials on MPLiTrj with each model's own training code."""
