"""Round games: AgentScope-style experiments in which many agents answer the same question round after round.

The first game is "guess p of the average" (`smallville game guess`), the headline experiment of Pan et al.
2024 (*Very Large-Scale Multi-Agent Simulation in AgentScope*), with its prompt variants P1-P7, ratio tests,
several rounds, mixtures of models and several seeds. The modules, from the bottom up:

- `config`: every knob, read from one TOML file (`[game]` + `[inference]`) and the command line;
- `prompts`: what a player is told (the variants), and the answer models (the structured answer's schema);
- `scoring`: targets, winners and the statistics of a round, exact (fractions), pure;
- `calls`: every model call recorded in the save, with its tokens, and answered from there on resume (the
  driver's log, and the books workers ship their records from);
- `play`: one round of turns for a list of players given the announced state (the unit a worker runs),
  in player order;
- `roster`: who plays (a population file, or numbered players), their model group and P6 group;
- `models`: one server pool per model group (agents pinned to endpoints), the health watch over them;
- `workers`: a round split into shards of players over the worker pool (`smallville/scale/`: in this process
  for one worker, group actors on Ray for more), the call records written and the turns merged in the driver;
- `store`: the save folder (manifest, append-only answer log, timing), its lock and its recovery;
- `study`: the study folder (study.json, the seeds' saves) read back, and a round's score and log event;
- `game`: the round loop over seeds, resume;
- `report`, `summary`, `plots`, `paper`: report.json, summary.md beside the paper's figures (`paper`),
  histograms and the mean per round;
- `standin`: stand-in players with known answers for tests and the benchmarks (`smallville/bench/games.py`: the
  10,000-agent round; `smallville/bench/scale.py`: the scale-out);
- `cli`: `smallville game guess | resume | report`.
"""
