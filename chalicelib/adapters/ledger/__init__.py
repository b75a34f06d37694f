"""The DynamoDB ledger: one adapter per aggregate over one table (key layout in keys.py)."""

from chalicelib.adapters.ledger.counters import DynamoCounters
from chalicelib.adapters.ledger.images import DynamoImages
from chalicelib.adapters.ledger.incidents import DynamoIncidents, DynamoOutbox
from chalicelib.adapters.ledger.layout import checked_table
from chalicelib.adapters.ledger.migration import DynamoLayout
from chalicelib.adapters.ledger.table import Table
from chalicelib.adapters.ledger.tags import DynamoTagHistory
from chalicelib.adapters.ledger.work import DynamoWorkQueue
from chalicelib.adapters.ledger.workloads import DynamoWorkloads
from chalicelib.adapters.ledger.writer import DynamoWriter

__all__ = [
    "DynamoCounters",
    "DynamoImages",
    "DynamoIncidents",
    "DynamoLayout",
    "DynamoOutbox",
    "DynamoTagHistory",
    "DynamoWorkQueue",
    "DynamoWorkloads",
    "DynamoWriter",
    "Table",
    "checked_table",
]
