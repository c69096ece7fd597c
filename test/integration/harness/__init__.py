"""Integration-test harness: a real SimpleSAMLphp IdP on loopback and a browser-like client.

Python 3 standard library only; run with Debian's /usr/bin/python3.
"""
