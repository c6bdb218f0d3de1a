"""Access-matrix rows, one module per feature, each defining ROWS = {route: [Case, ...]}.

A module imports its helpers from tests.matrix: Case, LOGIN, REDIRECT, everyone, signed_in, admin,
STAFF. See tests/test_access_matrix.py for how rows are read.
"""
