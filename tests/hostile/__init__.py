"""Hostile inputs for every ``litraj`` command, generated at test time (nothing big is committed).

:mod:`tests.hostile.corpus` writes the inputs and names the command lines that feed them;
:mod:`tests.hostile.runner` runs a batch of command lines through the real ``litraj`` entry
point in one child interpreter, each with its own HOME, cache and working folder and a
per-case alarm. ``tests/test_hostile_corpus.py`` checks the outcome of every case.
"""
