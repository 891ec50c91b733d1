"""Ask for approval: record the task token, send APPROVAL; the execution waits for an answer."""

from sunset.handler import handler_for
from sunset.phases.approval import ApprovalRequest, request_approval

lambda_handler = handler_for(ApprovalRequest, request_approval)
