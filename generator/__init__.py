"""Renders the Jinja templates in qvs/templates/ into the load-script library butler_subs.qvs.

``python -m generator`` with no options writes exactly the committed qvs/butler_subs.qvs; the
options change the names the generated subs use (connections, host/port/API-key variables).
"""
