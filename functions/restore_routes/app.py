"""Restore API routes: put routes, stages and methods back, then redeploy."""

from sunset.context import RestoreStepEvent
from sunset.handler import handler_for
from sunset.phases.restore_routes import restore_routes

lambda_handler = handler_for(RestoreStepEvent, restore_routes)
