"""Finding PII: the one-pass text scanner, its validators, optional NER, media inspection."""
