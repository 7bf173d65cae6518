"""Selection (the dbt grammar) and the planner: which steps run, and exactly why. Pure."""
