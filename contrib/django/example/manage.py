#!/usr/bin/env python3
"""The sample site's manage.py: python3 manage.py migrate (once), then run it behind httpd."""
import os
import sys

if __name__ == "__main__":
    # contrib/django (saml_remote_user.py) next to the project
    sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
