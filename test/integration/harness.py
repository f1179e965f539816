# The names the black-box tests use, gathered from the small helpers beside this file:
#   paths      where the build, tools and test data are
#   checks     assertions that print both values, waiting, small values (names, keys, times, SQL literals)
#   client     HTTP requests (JSON, multipart, server-sent events, raw), list pages, one request as plain CGI
#   admin      faqsurectl: accounts, keys, configuration copies
#   database   SQL, only for effects a client cannot see through the API
#   uploads    documents through the API: uploads, waiting for the worker
#   worker     the daemon worker: stop, start, run once
#   stack      a private stack (MariaDB, Apache or lighttpd, the worker) and the stacks of a run
# conftest.py turns the stacks into pytest fixtures.
from checks import (KEY_RE, REQUEST_ID_RE, TIME_RE, UUID_RE, SkipTest, check, eq, expect_error,  # noqa: F401
                    expect_healthy,
                    expect_request_id, fresh_minute, header_int, iso, name_cases, next_minute, random_key, sql_quote,
                    unique, utcnow, wait_for)
from client import DOCS, DOCX_MIME, UPLOAD, Response, _free_port_other_than, multipart  # noqa: F401
from paths import BUILD, CTL, DATA, DOCUMENTS_FCGI, KEYS_FCGI, PROBE_FCGI, ROOT, STACK_SH  # noqa: F401
from stack import Stack, keep_stack, kept_stack, stack, stop_stack, web_stack  # noqa: F401
from worker import paused_worker  # noqa: F401
