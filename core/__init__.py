"""The portal's shared library, the ground layer: Thai dates and fiscal years, national IDs, spreadsheet
safety, Thai PDFs, attachment checks, optimistic locking and the form helpers every app uses.

It imports Django and nothing of the portal's apps (`make lint` holds that); an app in INSTALLED_APPS
only for its template tags (`{% load thai_dates %}`).
"""
