"""Finding PII: the one-pass text scanner, its validators, optional NER, media inspection."""

from detectors.native import verify as _verify_native

# Refuse a compiled (mypyc) build that no longer matches its sources: it would run old code.
_verify_native()
