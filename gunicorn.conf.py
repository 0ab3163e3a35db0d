"""gunicorn settings for the web process (loaded from the working directory)."""

from oms.gunicorn import json_errors

json_errors()  # gunicorn's own refusals (a request line too long …) in the error shape
