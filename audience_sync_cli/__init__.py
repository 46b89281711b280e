"""Operator commands (`audience-sync`): connection and step status, metrics per step, DLQ and retry redrive.

Not part of the Lambda layer: it runs on an operator's machine against a deployed stack, found through the
CloudFormation stack's outputs, or against local mode.
"""
