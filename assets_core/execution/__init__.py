"""Running a plan: the step, the scheduler, the backends that run steps, locks and interrupts."""
