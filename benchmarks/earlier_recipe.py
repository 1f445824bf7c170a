"""The `fmnist-tiny` recipe as the earlier Fashion-MNIST benchmarks were measured (the
ablation, the quality runs, the method family), before the preset became the demo's: a
constant rate after warmup, and the public code's online probes (on the augmented views, at
the encoder's rate, scored by their own weights). Overrides that those scripts put first,
so that their tables in BENCHMARKS.md stay reproducible."""

EARLIER_RECIPE = ["optim.cooldown=0", "optim.probe_lr=null", "optim.probe_cooldown=true",
                  "probe.online_view=augmented", "probe.online_replay=0",
                  "probe.online_ema=0"]
