"""memlib's two layers, by module name: the core (:data:`CORE`), which makes and keeps runs and imports no finding;
the findings (:data:`FINDINGS`, one module or small package per notebook, by its number), which import the core
and not each other; and above both, :data:`TOP`. ``tests/test_structure.py`` holds every import to them."""

CORE = ("version", "checks", "strings", "config", "metrics", "milestones", "stats", "labels", "store", "embedded",
        "models", "parallel", "hardware", "checkpoint", "loop", "evaluation", "probes", "candidates", "extraction",
        "exposure", "membership", "tails", "lira", "counterfactual", "training", "sweep", "figures", "verdicts", "parameters", "layers")
FINDINGS = {"00": "explorer", "01": "phases", "02": "difficulty", "03": "context", "04": "sequential", "05": "privacy",
            "06": "capacity", "07": "audit"}
TOP = ("__init__", "presets", "notebooks", "execution")
