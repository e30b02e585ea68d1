"""derivcheck: machine-checked derivations of deep generative models, and a grader.

Map of the package:

=================  ==========================================================
symbols            typed symbols: domain, LaTeX, the names students use
step               Step (one relation + reason) and Derivation (titled steps)
evidence           Status x Kind: what backs every verdict
prove              relation -> evidence (symbolic, then exact numerics)
sampling           random admissible points and counterexamples
registry           the slot registry (slot ids, references, derivations)
verify             run derivations in bounded time; JSON-ready results
catalogue/         one module per question, filling the registry
cli                the ``derivcheck`` command
=================  ==========================================================
"""
