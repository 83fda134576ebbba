"""Camera frames to scene graphs, and the success predicates that judge a scene (the goal
language suites and the planner share)."""
