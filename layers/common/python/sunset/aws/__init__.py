"""Raw AWS calls, one module per service: pagination, error mapping, nothing else.

A reader looking for "how do we delete a route" finds it in exactly one place here; the phases
in sunset.phases compose these calls into the runbook.
"""

from sunset.aws.clients import AwsClients

__all__ = ["AwsClients"]
