"""Hyperparameter tuning jobs: a job kind on the job engine whose run trains real children.

`spec.py` parses the request once (`hyperparameters.py` its ranges, `warm_start.py` its parents'
rules), `strategies.py` picks configurations, `run.py` is what a run
does, `service.py` the operations."""

from emulator.services.tuning.service import TuningService

__all__ = ["TuningService"]
