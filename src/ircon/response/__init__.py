"""Response playbooks: format, loading, lint, templates, step engine, CACAO 2.0.

Pure: nothing here touches the store, adapters or the console. The store
side (pinning a playbook to an incident, recording steps) lives in
``ircon.store.playbooks``.
"""
