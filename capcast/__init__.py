"""capcast's client side: a typed REST client and training-loop callbacks.

Speaks HTTP only and imports nothing else of capcast's (DESIGN.md, "A client for training jobs"),
so a training job installs it with ``pip install 'capcast[client]'`` and none of the server's
dependencies.
"""

from capcast.client import (
    CapcastClient,
    CapcastError,
    Forecast,
    Health,
    Job,
    LoadReport,
    Measurement,
    Model,
)

__all__ = [
    "CapcastClient",
    "CapcastError",
    "Forecast",
    "Health",
    "Job",
    "LoadReport",
    "Measurement",
    "Model",
]
