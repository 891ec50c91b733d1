"""Remove API routes: cut client access to the service."""

from sunset.handler import phase_handler
from sunset.phases.cut_access import remove_api_routes

lambda_handler = phase_handler(remove_api_routes)
