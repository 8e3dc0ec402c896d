"""The one Logger, Tracer and Metrics setup that every handler shares."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from lambdas.shared.env import METRICS_NAMESPACE

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)
