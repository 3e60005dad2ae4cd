"""The audit trail: an append-only, hash-chained JSONL log of security- and compliance-relevant
requests, one file per UTC day, with retention, a verifier and a reader.

Modules, one job each: ``lines`` (the line format), ``chain`` (hashing), ``files`` (day files
and their tails), ``relevance`` (which request shapes are written), ``writer`` (appending,
rolling, recovery), ``retention`` (purging), ``verify`` (finding tampering) and ``reader``
(request lines for the review and compliance reports).
"""

from __future__ import annotations

from exporter.audit.reader import read_records
from exporter.audit.retention import RetentionError, expired, purge
from exporter.audit.verify import Problem, Verification, verify
from exporter.audit.writer import AuditWriter

__all__ = ["AuditWriter", "Problem", "RetentionError", "Verification", "expired", "purge", "read_records", "verify"]
