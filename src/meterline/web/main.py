"""`meterline.web.main:app`: the application built from METERLINE_* settings, for uvicorn/gunicorn workers."""

from meterline.core.settings import load_settings
from meterline.web.app import create_app

app = create_app(load_settings())
