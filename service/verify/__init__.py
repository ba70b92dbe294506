"""Verification: citation parsing, the support checker and neutrality.

Everything the pipeline writes passes through here before it is returned: markers are parsed
and checked against what the model was shown, each sentence's support is scored against the
sentences it cites, and the neutrality rules (attribution, counter-claims, no loaded words of
our own) are applied.
"""
