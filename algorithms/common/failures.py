"""The two kinds of training failure the built-in algorithms report.

The real images prefix ``/opt/ml/output/failure`` (and so ``FailureReason``) with
``ClientError:`` when the customer's input is at fault (hyperparameters, data) and with
``AlgorithmError:`` otherwise; ``cli`` writes that prefix from the exception's class.
"""

from __future__ import annotations


class ClientError(Exception):
    """Bad hyperparameters or bad training data: the customer can fix it."""

    prefix = "ClientError"


class AlgorithmError(Exception):
    """Anything else that went wrong inside the algorithm."""

    prefix = "AlgorithmError"
