"""OpIRBench: the task, the splits, the seven metrics, and the runner that writes the tables."""
