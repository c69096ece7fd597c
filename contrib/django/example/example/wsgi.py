"""The WSGI application: mod_wsgi's WSGIScriptAlias points here, gunicorn takes example.wsgi."""
import os
import sys

# The project and contrib/django (saml_remote_user.py) on the path, wherever this tree is.
HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(HERE), os.path.dirname(os.path.dirname(HERE))):
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
