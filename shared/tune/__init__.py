"""`alertloop tune`: backtest an alerting rule against Prometheus history, propose a change.

- `rules`: alerting rules read from a rules file, with their values' positions in the text;
- `promql`: the expression split into left side / comparison / threshold, durations;
- `backtest`: Prometheus' pending/firing/resolved state machine (`for`, `keep_firing_for`)
  replayed over a range-query result;
- `score`: incidents judged by ledger verdicts or the noise heuristic, alternatives scored,
  the recommendation;
- `edit`: the change made to the file's text (comments kept) and shown as a unified diff;
- `analysis`: one backtest without I/O; `command`: the CLI subcommand.
"""
