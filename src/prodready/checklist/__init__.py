"""Checklists: verify a team's own production-readiness checklist, generate one, record attestations.

- ``parser``: Markdown checklist → items with their context (markdown-it-py with task lists).
- ``text``, ``stem``, ``labels``: offline text analysis and the vocabulary the mapper reads.
- ``mapper``: items → the controls that verify them, with a confidence.
- ``verifier``: items + a scan report → per-item status and evidence.
- ``writer``: annotated Markdown and the terminal summary; ``generator``: a checklist from evidence.
- ``attest``: the attestations file, read by the engine and written by ``prodready attest``.
- ``cli``: ``prodready checklist verify|generate`` and ``prodready attest``.
"""
