"""Scale-out: a study's agents many to a group actor, on Ray, when one process is not enough.

The round games and the diffusion study's seeds run on it; the town itself stays in one process (its
determinism is one event loop's). From the bottom up:

- `settings`: the `[scale]` table (workers, cluster address, restarts, timeouts) and the flags over it
  (`limits`: the bounds the command line checks before importing anything heavy);
- `shards`: agents split into contiguous shards and merged back in agent order (why K never shows in a result);
- `cluster`: Ray imported lazily, started on this machine or joined by address within a deadline, stopped
  when the command ends (also on Ctrl-C); `probe` is the child process that tries an address first;
- `actor`: the group actor, hosting one group (its own model pool and recorder) and streaming its items back;
- `pool`: the worker pool, in-process for one worker (no Ray) or K group actors on Ray, with restarts of a
  lost actor and a one-line stop naming the node when one does not come back.

Why Ray: an existing, maintained engine (placement over nodes, restarts, an object store, a cluster a lab may
already run), where AgentScope built its own gRPC actor layer. Why many agents to an actor: starting an actor
costs about 0.4 s here, so one per agent cannot scale; AgentSociety groups agents the same way.
"""
