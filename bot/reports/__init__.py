"""Reports that leave the chat as files: charts of how resilience changes over time."""
