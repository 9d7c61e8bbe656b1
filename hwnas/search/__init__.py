"""Search under a latency budget: problems, searchers (ask/tell), the run loop and run directories."""
