"""Automation (DESIGN §15): when schedules and sensors tick, what each tick runs, and
``lumbung serve``, the one process that evaluates them and launches each run in its own
subprocess. Above the session: it plans through a ``Session`` and runs ``lumbung materialize``.

- ``clock``: what "now" is for the server (injectable; ``LUMBUNG_CLOCK`` for tests);
- ``due``: a schedule's ticks between two instants, and which to run after an outage;
- ``evaluate``: what a tick runs (selection, the partition window it closes, stale sources,
  a custom sensor's requests);
- ``launcher``: a tick's run as a ``lumbung materialize`` subprocess that dies with the server;
- ``listing``: each schedule and sensor with its next and last tick (``schedules``, the UI);
- ``server``: the loop (``Server``), which records each tick before it launches its run.
"""
