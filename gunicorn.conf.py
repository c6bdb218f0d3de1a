# gunicorn reads this file from the working directory (Dockerfile, docker-compose.yml).
bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"
# The path without its query string (%(U)s): a query may carry a search for a national ID, and
# personal data never goes into logs.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
# gunicorn writes its access log outside Django's LOGGING: this logger masks national IDs, G-codes
# and the secrets of URL paths (a calendar feed's token, a password-reset key) in every atom of it,
# and in the error log (audit/gunicorn_logging.py).
logger_class = "audit.gunicorn_logging.RedactingLogger"
