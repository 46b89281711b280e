"""CloudWatch metrics as Powertools EMF blobs, each written in one piece.

Powertools prints a blob, then its newline, in two writes. The batcher logs from several threads: a log line
written between the two leaves a line CloudWatch cannot parse, and the metric is lost (seen in local mode, where
every function shares one stdout). One write per blob keeps each line whole. Blobs are built by Powertools.

Not an adapter (adapters/aws/): EMF is a log line format, no AWS SDK call is made, and CloudWatch Logs turns the
lines into metrics. Any layer may publish a metric through here, as any layer may log.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# EMF allows 100 values per metric in one blob; Powertools prints a blob itself (in two writes) when one reaches it.
MAX_VALUES = 99


def publish(
    values: Mapping[str, tuple[MetricUnit, Sequence[float]]], dimensions: Mapping[str, str] | None = None
) -> None:
    """Metric name -> (unit, values) with the service dimension plus `dimensions`; as many blobs as it takes."""
    if is_metrics_disabled():
        return
    pending = {name: (unit, list(vals)) for name, (unit, vals) in values.items() if vals}
    while pending:
        metrics = EphemeralMetrics()
        for dimension, label in (dimensions or {}).items():
            metrics.add_dimension(name=dimension, value=label)
        for name, (unit, vals) in list(pending.items()):
            for value in vals[:MAX_VALUES]:
                metrics.add_metric(name=name, unit=unit, value=value)
            if len(vals) > MAX_VALUES:
                pending[name] = (unit, vals[MAX_VALUES:])
            else:
                del pending[name]
        sys.stdout.write(json.dumps(metrics.serialize_metric_set(), separators=(",", ":")) + "\n")


def count(name: str, value: float, dimensions: Mapping[str, str] | None = None) -> None:
    publish({name: (MetricUnit.Count, [value])}, dimensions)
