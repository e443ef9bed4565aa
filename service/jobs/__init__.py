"""Jobs: a crash-safe queue over the ``job`` table, the worker, and schedules.

- :mod:`service.jobs.queue`: enqueue, atomic claim, lease renewal, retries, cancel, reclaim.
- :mod:`service.jobs.worker`: ``capcast worker`` (slots, heartbeat, graceful SIGTERM).
- :mod:`service.jobs.handlers`: what each job kind does (they see a job through
  :mod:`service.jobs.context` only, never the worker).
- :mod:`service.jobs.failures`: one-line job errors with an error id; what is retried.
- :mod:`service.jobs.paths`: payload paths must resolve inside the job roots.
- :mod:`service.jobs.scheduler`: cron schedules and checkpoint watches, exactly once per tick.
"""
