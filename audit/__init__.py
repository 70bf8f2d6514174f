"""The audit log: its model, recording (recording.py), "who held" (history.py), retention
(retention.py, `manage.py prune_audit`) and its console page (admin.py)."""
