"""The pure core: facts, lifecycle, decisions, tag judgement, alert documents and their
renderings. No I/O, no SDKs, nothing of the project outside this package (import-linter)."""
