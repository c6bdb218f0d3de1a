"""Demo data for `make run` (`manage.py load_demo_data`): users, support assignments, provincial work,
meetings, reports, support activities and target-group records, each in its module. It spans every app,
so it lives on top, in the portal."""
